"""The publisher's pages: my datasets, describe a dataset, upload files, read the checks. Thin."""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import publisher_required
from accounts.exceptions import DomainError
from catalog import selectors, services
from catalog.forms import DatasetVersionForm


def catalog_home(request):
    """The public catalog: published datasets, newest first (search and facets: discovery issue)."""
    q = request.GET.get("q", "").strip()
    page = Paginator(selectors.published_versions(q), 20).get_page(request.GET.get("page"))
    return render(request, "catalog/index.html", {"page": page, "q": q})


def dataset_detail(request, slug):
    """The public page of a published dataset: description, licence, offers, versions, files, schema, sample."""
    version = selectors.dataset_public_get(slug)
    return render(
        request,
        "catalog/dataset_detail.html",
        {
            "version": version,
            "dataset": version.dataset,
            "files": selectors.version_files(version),
            "history": selectors.dataset_public_history(version.dataset),
            "offers": version.dataset.offers.filter(active=True).order_by("price_krw"),
        },
    )


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
        "upload_max_bytes": settings.UPLOAD_MAX_BYTES,
        "upload_max_gb": settings.UPLOAD_MAX_BYTES // 1024**3,
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


@publisher_required
def datafile_detail(request, pk):
    datafile = selectors.datafile_get_for_publisher(user=request.user, pk=pk)
    return render(request, "catalog/datafile_detail.html", {"datafile": datafile, "version": datafile.version})


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
