"""API plan pages (issue 16): taking a development or metered plan, the buyer's usage page (with the plans, what is
left of their quota, the metered amount of the month, cap and cancel), and the provider's usage page. Thin: reads
from transactions.apiplans.selectors, writes through transactions.apiplans.services."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import buyer_required, publisher_required
from core.errors import DomainError
from core.http import client_ip
from transactions.apiplans import selectors, services
from transactions.apiplans.forms import CapForm, TakePlanForm


def _organization(request):
    return request.active_membership.organization


@buyer_required
def take(request, offer_id):
    organization = _organization(request)
    offer = selectors.api_offer_get(offer_id, organization)
    line = selectors.offer_line(offer, organization)
    form = TakePlanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            plan = services.api_plan_take(
                actor=request.user,
                organization=organization,
                offer=offer,
                accepted_sha256=form.cleaned_data["accept"],
                monthly_cap_krw=form.cleaned_data["monthly_cap_krw"],
                ip=client_ip(request),
            )
        except (DomainError, PermissionDenied) as exc:
            messages.error(request, getattr(exc, "message", None) or str(exc))
        else:
            messages.success(request, _("The plan is active now. Make an API key with the data scope to call the API."))
            return redirect(reverse("transactions:api_usage") + f"#plan-{plan.pk}")
    return render(
        request,
        "transactions/apiplans/take.html",
        {"offer": offer, "line": line, "form": form, "dataset": offer.dataset},
    )


@buyer_required
def usage(request):
    organization = _organization(request)
    data = selectors.buyer_usage(organization)
    return render(
        request,
        "transactions/apiplans/usage.html",
        {"usage": data, "charts_json": data.charts_json(), "cap_form": CapForm(), "provider": False},
    )


@buyer_required
@require_POST
def cap_change(request, pk):
    plan = selectors.plan_for_buyer(organization=_organization(request), pk=pk)
    form = CapForm(request.POST)
    if form.is_valid():
        try:
            services.api_plan_cap_change(
                actor=request.user, plan=plan, monthly_cap_krw=form.cleaned_data["monthly_cap_krw"]
            )
        except (DomainError, PermissionDenied) as exc:
            messages.error(request, getattr(exc, "message", None) or str(exc))
        else:
            messages.success(request, _("The monthly cap is changed; the next call is held to it."))
    else:
        messages.error(request, _("Enter the monthly cap in won."))
    return redirect(reverse("transactions:api_usage") + f"#plan-{plan.pk}")


@buyer_required
@require_POST
def cancel(request, pk):
    plan = selectors.plan_for_buyer(organization=_organization(request), pk=pk)
    try:
        services.api_plan_cancel(actor=request.user, plan=plan)
    except (DomainError, PermissionDenied) as exc:
        messages.error(request, getattr(exc, "message", None) or str(exc))
    else:
        messages.success(request, _("The plan is cancelled: calls now count against the default allowance."))
    return redirect("transactions:api_usage")


@publisher_required
def provider_usage(request):
    data = selectors.provider_usage(_organization(request))
    return render(
        request,
        "transactions/apiplans/usage.html",
        {"usage": data, "charts_json": data.charts_json(), "provider": True},
    )
