"""The provider's live-table actions on its version page (POST forms; the panel is catalog/live/_provider_panel)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from accounts.decorators import publisher_required
from catalog import selectors as catalog_selectors
from catalog.live import services
from catalog.live.models import LiveTable
from catalog.models import DatasetVersion
from core.errors import DomainError


@require_POST
@publisher_required
def live_enable(request, pk):
    """Make one table of the published version live (`file`, `cadence`)."""
    version = catalog_selectors.version_get_for_publisher(user=request.user, pk=pk)
    datafile = version.files.filter(pk=request.POST.get("file") or 0).first()
    cadence = request.POST.get("cadence") or "daily"
    if datafile is None:
        messages.error(request, _("Choose a table of the published version."))
    elif cadence not in DatasetVersion.Cadence.values:
        messages.error(request, _("Choose how often a snapshot is published."))
    else:
        try:
            table = services.live_table_enable(
                actor=request.user, dataset=version.dataset, datafile=datafile, cadence=cadence
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The table is live: push rows to it with the API."))
            return redirect(f"{version_url(version)}#live-{table.name}")
    return redirect(version_url(version))


def version_url(version) -> str:
    return reverse("catalog:version", args=[version.pk])


@require_POST
@publisher_required
def live_state(request, pk, name):
    """Pause or resume receiving rows (`action` = pause | resume)."""
    version = catalog_selectors.version_get_for_publisher(user=request.user, pk=pk)
    table = get_object_or_404(LiveTable, dataset=version.dataset, name=name)
    try:
        if request.POST.get("action") == "pause":
            services.live_table_pause(actor=request.user, table=table)
            messages.success(request, _("The live table is paused: pushes are refused until you resume it."))
        else:
            services.live_table_resume(actor=request.user, table=table)
            messages.success(request, _("The live table receives rows again."))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(f"{version_url(version)}#live-{table.name}")
