"""What anyone may read without signing in: a dataset's page, its free sample, an organization's page. Thin."""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_cache_control

from catalog import exports, schemaorg, selectors
from catalog.dcat.views import rdf_alternative
from catalog.rendering import plain_text, render_markdown
from core.notify import site_url


@rdf_alternative  # Accept: text/turtle, application/ld+json or application/rdf+xml → the dataset in RDF (DCAT-AP)
def dataset_detail(request, slug):
    """The public page of a dataset: description, publisher, licence, offers, versions, files with their
    schema, profile charts and sample rows, coverage map, related datasets; schema.org JSON-LD in the head."""
    page = selectors.dataset_page(slug)
    version = page.version
    map_config = None
    if page.bbox:
        map_config = {
            "bbox": page.bbox,
            "tileUrl": settings.MAP_TILE_URL,
            "attribution": settings.MAP_TILE_ATTRIBUTION,
            # Each layer is fetched from this site (CSP connect-src 'self'); catalog.ingest.maps bounds them.
            "layers": [
                {"url": reverse("catalog:dataset_map", args=[slug, f.pk]), "name": f.original_name}
                for f in page.map_files
            ],
        }
    response = render(
        request,
        "catalog/dataset_detail.html",
        {
            "page": page,
            "version": version,
            "dataset": page.dataset,
            "publisher": page.dataset.publisher,
            "description_html": render_markdown(version.description),
            "jsonld": schemaorg.script_json(schemaorg.dataset_jsonld(page, site_url)),
            "canonical_url": site_url(request.path),
            "map_config": map_config,
        },
    )
    if page.dataset.has_live_tables:
        # The live section's last-row age and row count change with every push (no catalog change): the page is
        # made afresh for each visitor, never kept in the anonymous page cache (marketplace/page_cache.py).
        patch_cache_control(response, no_cache=True)
    return response


def dataset_map(request, slug, file_id):
    """The map layer of one file (points, grid cells or simplified features), made by the checks."""
    return JsonResponse(selectors.dataset_map_layer(slug, file_id))


def dataset_sample(request, slug):
    """The free sample: the preview rows of one file (the first, or ?file=<id>) as a CSV download."""
    file_id = request.GET.get("file")
    if file_id is not None and not file_id.isdigit():
        raise Http404
    datafile = selectors.dataset_sample_file(slug, int(file_id) if file_id else None)
    return exports.sample_response(datafile, slug)


def organization_detail(request, slug):
    """An organization's public page: who they are, whether the platform verified them, their datasets."""
    organization = selectors.organization_public_get(slug)
    page = Paginator(selectors.organization_entries(organization), 20).get_page(request.GET.get("page"))
    for entry in page.object_list:
        entry.teaser = plain_text(entry.version.description)
    return render(
        request,
        "catalog/organization_detail.html",
        {
            "organization": organization,
            "page": page,
            "departments": list(selectors.organization_departments(organization)),
            "canonical_url": site_url(request.path),
        },
    )
