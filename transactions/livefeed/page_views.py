"""The buyer's webhook page (/orders/webhooks/): the organization's endpoints with their last deliveries, a form to
add one for a live table it has live access to (the secret shown once, on the answer to that POST), and a button to
switch one off. Thin: transactions.livefeed.services writes."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from accounts.decorators import buyer_required
from catalog.live.models import LiveTable
from core.errors import DomainError
from transactions.livefeed import selectors, services
from transactions.livefeed.access import live_access


def _context(request, **extra):
    organization = request.user.active_organization
    endpoints = list(selectors.endpoints_of(organization))
    for endpoint in endpoints:
        endpoint.recent = selectors.recent_deliveries(endpoint, 5)
    tables = [
        t
        for t in LiveTable.objects.select_related("dataset").filter(dataset__listing="active").order_by("dataset__slug")
        if live_access(user=request.user, organization=organization, dataset=t.dataset)
    ]
    return {"endpoints": endpoints, "tables": tables, **extra}


@buyer_required
def webhooks(request):
    if request.method == "POST":
        table = LiveTable.objects.filter(pk=request.POST.get("table") or 0).select_related("dataset").first()
        if table is None:
            messages.error(request, _("Choose a live table."))
            return redirect("transactions:webhooks")
        try:
            endpoint, secret = services.webhook_endpoint_create(
                actor=request.user,
                organization=request.user.active_organization,
                table=table,
                url=request.POST.get("url", ""),
                description=request.POST.get("description", ""),
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("transactions:webhooks")
        return render(
            request, "transactions/livefeed/webhooks.html", _context(request, new_endpoint=endpoint, secret=secret)
        )
    return render(request, "transactions/livefeed/webhooks.html", _context(request))


@require_POST
@buyer_required
def webhook_deactivate(request, pk):
    # Another organization's endpoint (or none) is not found: the same answer as every page named by an id it may
    # not see, rather than a redirect that looks as if something was done.
    endpoint = get_object_or_404(selectors.endpoints_of(request.user.active_organization), pk=pk)
    services.webhook_endpoint_deactivate(actor=request.user, endpoint=endpoint)
    messages.success(request, _("The webhook is switched off: nothing more is sent to it."))
    return redirect("transactions:webhooks")
