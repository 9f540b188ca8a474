"""The publisher's pages: my datasets, describe a dataset, upload files, read the checks. Thin."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from accounts.decorators import publisher_required
from catalog import dictionary, selectors, services
from catalog.filters import SORTS
from catalog.forms import DataDictionaryForm, DatasetVersionForm
from core.errors import DomainError

FACET_TITLES = {
    "theme": gettext_lazy("Theme"),
    "price": gettext_lazy("Price"),
    "format": gettext_lazy("Format"),
    "publisher": pgettext_lazy("organization", "Publisher"),
    "licence": gettext_lazy("Licence"),
    "cadence": gettext_lazy("Update cadence"),
    "area": gettext_lazy("Area"),
    "tag": gettext_lazy("Keyword"),
}


def catalog_home(request):
    """The catalog: search, facets, sort and pages, all in the URL. htmx swaps only the results part."""
    result = selectors.catalog_search(request.GET, page=request.GET.get("page"))
    context = {
        "result": result,
        "query": request.GET,
        "q": result.state["q"],
        "sorts": SORTS,
        "facet_groups": [(name, FACET_TITLES[name], result.facets.get(name, [])) for name in FACET_TITLES],
        "active_filters": [
            (name, FACET_TITLES[name], fv) for name in FACET_TITLES for fv in result.facets.get(name, []) if fv.selected
        ],
        "suggestions": selectors.similar_terms(result.state["q"]) if result.total == 0 and result.state["q"] else [],
    }
    partial = request.htmx and not request.htmx.history_restore_request
    return render(request, "catalog/_catalog_body.html" if partial else "catalog/index.html", context)


def _organization(request):
    return request.active_membership.organization


@publisher_required
def provider_home(request):
    """My datasets: every dataset of the active organization with its newest version's state."""
    datasets = selectors.datasets_for_publisher(_organization(request))
    return render(request, "catalog/provider_home.html", {"datasets": datasets})


@publisher_required
def dataset_create(request):
    organization = _organization(request)
    form = DatasetVersionForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        try:
            version = services.dataset_create(actor=request.user, organization=organization, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The dataset was created as a draft. Now upload its files."))
            return redirect("catalog:version", pk=version.pk)
    return render(request, "catalog/version_form.html", {"form": form, "creating": True})


@publisher_required
def version_detail(request, pk):
    version = selectors.version_get_for_publisher(user=request.user, pk=pk)
    context = {
        "version": version,
        "dataset": version.dataset,
        "files": selectors.version_files(version),
        "lineage": selectors.version_lineage(version),
        "open_version": selectors.version_open_sibling(version) if version.state == "published" else None,
        "personal_data": selectors.version_has_personal_data(version),
        "upload_max_bytes": settings.UPLOAD_MAX_BYTES,
        "upload_max_gb": settings.UPLOAD_MAX_BYTES // 1024**3,
        "upload_lease_seconds": settings.UPLOAD_LEASE_SECONDS,
    }
    if request.htmx:
        return render(request, "catalog/_version_files.html", context)
    return render(request, "catalog/version_detail.html", context)


@publisher_required
def version_edit(request, pk):
    version = selectors.version_get_for_publisher(user=request.user, pk=pk)
    form = DatasetVersionForm(request.POST or None, instance=version, organization=version.dataset.publisher)
    if request.method == "POST" and form.is_valid():
        try:
            services.version_update_metadata(actor=request.user, version=version, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The description was saved."))
            return redirect("catalog:version", pk=version.pk)
    return render(request, "catalog/version_form.html", {"form": form, "version": version})


def _datafile_page(request, datafile, form=None):
    version = datafile.version
    context = {"datafile": datafile, "version": version, "units": dictionary.COMMON_UNITS}
    if datafile.table_schema and datafile.is_checked:
        context["dictionary_form"] = form or DataDictionaryForm(datafile=datafile)
        datafile.dictionary_rows = dictionary.rows(datafile)
        datafile.described = dictionary.described_count(datafile)
    return render(request, "catalog/datafile_detail.html", context)


@publisher_required
def datafile_detail(request, pk):
    datafile = selectors.datafile_get_for_publisher(user=request.user, pk=pk)
    return _datafile_page(request, datafile)


@publisher_required
@require_POST
def datafile_dictionary(request, pk):
    """Save the column descriptions of a file (only while its version can be edited; the service checks)."""
    datafile = selectors.datafile_get_for_publisher(user=request.user, pk=pk)
    form = DataDictionaryForm(request.POST, datafile=datafile)
    if form.is_valid():
        try:
            services.datafile_dictionary_update(actor=request.user, datafile=datafile, entries=form.entries())
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The column descriptions were saved."))
            return redirect(reverse("catalog:datafile", args=[datafile.pk]) + "#dictionary")
    return _datafile_page(request, datafile, form)


@publisher_required
@require_POST
def datafile_remove(request, pk):
    datafile = selectors.datafile_get_for_publisher(user=request.user, pk=pk)
    version = datafile.version
    try:
        services.datafile_remove(actor=request.user, datafile=datafile)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(name)s was removed.") % {"name": datafile.original_name})
    return redirect("catalog:version", pk=version.pk)
