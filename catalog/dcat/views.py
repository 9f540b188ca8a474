"""The DCAT-AP documents: the catalog (paged, Hydra links, ?modified_since=), one dataset, the theme scheme, a
table's schema; and the dataset page's RDF by content negotiation. Read-only and public; thin.

Formats: Turtle (.ttl, text/turtle), JSON-LD (.jsonld, application/ld+json), RDF/XML (.rdf, application/rdf+xml).
A rendered catalog page is cached per catalog generation (catalog.discovery: bumped on every change of an entry)
for CACHE_SECONDS at most, so a harvester paging through the catalog does not rebuild each page for each reader.
"""

import functools
import math
from datetime import datetime, time
from types import SimpleNamespace
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from catalog import discovery
from catalog.dcat import graph, selectors, vocab
from core.api.errors import body
from core.api.throttling import PerIPThrottle

FORMATS = {
    "ttl": ("turtle", "text/turtle"),
    "jsonld": ("json-ld", "application/ld+json"),
    "rdf": ("xml", "application/rdf+xml"),
}
BY_MEDIA_TYPE = {media: ext for ext, (_fmt, media) in FORMATS.items()}
PAGE_SIZE = 100  # datasets per catalog page (settings.DCAT_PAGE_SIZE overrides)
CACHE_SECONDS = 300
JSONLD_CONTEXT = {prefix: str(namespace) for prefix, namespace in vocab.PREFIXES.items()}


class BadParameter(ValueError):
    def __init__(self, code: str, message):
        super().__init__(code)
        self.code, self.message = code, message


def serialize(g, ext: str) -> bytes:
    fmt, _media = FORMATS[ext]
    if fmt == "json-ld":
        return g.serialize(format="json-ld", context=JSONLD_CONTEXT, auto_compact=True, encoding="utf-8")
    return g.serialize(format=fmt, encoding="utf-8")


def rdf_response(content: bytes, ext: str, status: int = 200) -> HttpResponse:
    media = FORMATS[ext][1]
    response = HttpResponse(content, content_type=f"{media}; charset=utf-8", status=status)
    response["Access-Control-Allow-Origin"] = "*"  # public metadata, read by browser-based tools too
    return response


def error_response(error: BadParameter) -> JsonResponse:
    return JsonResponse(body(status_code=400, code=error.code, message=error.message), status=400)


def page_size() -> int:
    return int(getattr(settings, "DCAT_PAGE_SIZE", PAGE_SIZE))  # settings.DCAT_PAGE_SIZE (env DCAT_PAGE_SIZE)


def parse_page(value: str | None) -> int:
    if value in (None, ""):
        return 1
    if not value.isdigit() or int(value) < 1 or len(value) > 9:
        raise BadParameter("invalid_page", _("The page must be a whole number from 1."))
    return int(value)


def parse_modified_since(value: str | None) -> datetime | None:
    """An ISO 8601 date (midnight in Korea) or date-time (without an offset: Korean time)."""
    if value in (None, ""):
        return None
    value = value.strip().replace(" ", "+")  # a "+09:00" offset arrives as " 09:00" when not percent-encoded
    try:
        moment = parse_datetime(value)
        day = None if moment else parse_date(value)
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        raise BadParameter(
            "invalid_modified_since",
            _("modified_since must be an ISO 8601 date or date-time, e.g. 2026-01-31 or 2026-01-31T09:00:00+09:00."),
        )
    if moment is None:
        moment = datetime.combine(day, time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _page_url(ext: str, page: int, modified_since: str | None) -> str:
    params = {"page": page}
    if modified_since:
        params["modified_since"] = modified_since
    return graph.site(f"/catalog.{ext}?{urlencode(params)}")


def catalog_page(*, ext: str, page: int, modified_since_text: str | None) -> tuple[int, bytes]:
    """(status, body) of one page of the catalog in a format; 404 past the last page."""
    since = parse_modified_since(modified_since_text)
    size = page_size()
    # Only the whole catalog's pages are kept: `modified_since` is any instant a client writes, and a page per instant
    # (hundreds of kilobytes each, in the Redis the task queue shares) would let one address fill it in minutes.
    key = f"dcat:catalog:{discovery.catalog_generation()}:{size}:{ext}:{page}" if since is None else None
    cached = cache.get(key) if key else None
    if cached is not None:
        return cached
    paginator = Paginator(selectors.entry_ids(modified_since=since), size, allow_empty_first_page=True)
    if page > paginator.num_pages:
        return 404, b""
    records = selectors.records(selectors.entries_by_ids(paginator.page(page).object_list))
    last = paginator.num_pages
    g = graph.catalog_graph(
        records,
        themes=selectors.themes(),
        modified=selectors.last_modified(),
        paging={
            "page_uri": _page_url(ext, page, modified_since_text),
            "total": paginator.count,
            "first": _page_url(ext, 1, modified_since_text),
            "last": _page_url(ext, last, modified_since_text),
            "previous": _page_url(ext, page - 1, modified_since_text) if page > 1 else None,
            "next_": _page_url(ext, page + 1, modified_since_text) if page < last else None,
        },
    )
    result = (200, serialize(g, ext))
    if key:
        cache.set(key, result, CACHE_SECONDS)
    return result


def throttled(view):
    """The API's per-address budget (settings.API_RATE_PER_IP) on these documents too: an uncached catalog page is
    a fraction of a second of work, and `modified_since` lets a client ask for ever new ones. 429 with Retry-After."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        throttle = PerIPThrottle()
        if not throttle.allow_request(SimpleNamespace(auth=None, META=request.META), None):
            response = JsonResponse(
                body(
                    status_code=429,
                    code="throttled",
                    message=_("Too many requests: wait and try again (see Retry-After)."),
                ),
                status=429,
            )
            response["Retry-After"] = str(max(1, math.ceil(throttle.wait() or 1)))
            return response
        return view(request, *args, **kwargs)

    return wrapper


@throttled
def catalog_document(request, ext: str):
    """/catalog.ttl|.jsonld|.rdf?page=N&modified_since=…: a page of the catalog."""
    try:
        page = parse_page(request.GET.get("page"))
        status, content = catalog_page(ext=ext, page=page, modified_since_text=request.GET.get("modified_since"))
    except BadParameter as error:
        return error_response(error)
    if status == 404:
        return JsonResponse(
            body(status_code=404, code="not_found", message=_("There is no such page of the catalog.")), status=404
        )
    return rdf_response(content, ext)


@throttled
def dataset_document(request, slug: str, ext: str):
    """/dataset/<slug>.ttl|.jsonld|.rdf: one public dataset (404 for any other)."""
    return rdf_response(serialize(graph.dataset_graph(selectors.dataset_record(slug)), ext), ext)


def themes_document(request, ext: str | None = None):
    """/themes(.ttl|.jsonld|.rdf): the theme scheme; /themes answers by the Accept header (Turtle by default)."""
    vary = ext is None
    ext = ext or negotiated(request) or "ttl"
    response = rdf_response(serialize(graph.themes_graph(selectors.themes()), ext), ext)
    if vary:
        patch_vary_headers(response, ["Accept"])
    return response


def table_schema(request, slug: str, file_id: int):
    """A table's Frictionless Table Schema with its data dictionary: what a distribution's dct:conformsTo names."""
    datafile = selectors.table_file(slug, file_id)
    fields = []
    for column in (datafile.table_schema or {}).get("fields") or []:
        field = {key: column[key] for key in ("name", "type", "format") if column.get(key)}
        entry = (datafile.dictionary or {}).get(column.get("name")) or {}
        description = entry.get("description_ko") or ""
        if description:
            field["description"] = description
        if entry.get("description_en"):
            field["description_en"] = entry["description_en"]
        if entry.get("unit"):
            field["unit"] = entry["unit"]
        if entry.get("codes"):
            field["constraints"] = {"enum": [code["code"] for code in entry["codes"]]}
            field["codes"] = entry["codes"]
        fields.append(field)
    document = {
        "$schema": "https://specs.frictionlessdata.io/schemas/table-schema.json",
        "name": datafile.original_name,
        "title": datafile.display_name,
        "fields": fields,
    }
    response = JsonResponse(document, json_dumps_params={"ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"
    return response


# --- content negotiation on the dataset page ---------------------------------------------------------------------

HTML_TYPES = ("text/html", "application/xhtml+xml")


def negotiated(request) -> str | None:
    """The RDF format (ext) the Accept header prefers over HTML, or None (HTML, or nothing we make)."""
    accept = request.headers.get("Accept", "")
    if not accept or not any(media in accept for media in BY_MEDIA_TYPE):
        return None  # the common case (browsers, curl): no parsing
    preferred = request.get_preferred_type([*HTML_TYPES, *BY_MEDIA_TYPE])
    return BY_MEDIA_TYPE.get(preferred)


def rdf_alternative(view):
    """The dataset page answers Turtle, JSON-LD or RDF/XML when the Accept header prefers one to HTML (the
    dataset's URI is its page's URL); every answer says it varies by Accept."""

    @functools.wraps(view)
    def wrapper(request, slug, *args, **kwargs):
        ext = negotiated(request) if request.method in ("GET", "HEAD") else None
        if ext is not None:
            response = dataset_document(request, slug, ext)
            if response.status_code == 200:
                response["Content-Location"] = graph.site(f"/dataset/{slug}.{ext}")
        else:
            response = view(request, slug, *args, **kwargs)
        patch_vary_headers(response, ["Accept"])
        return response

    return wrapper


def catalog_rdf_alternative(view):
    """The catalog's URI is the catalog page (/catalog/): asked for RDF by the Accept header, it sends the reader to
    the catalog's first document in that format (303 See Other), and says it varies by Accept."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        ext = negotiated(request) if request.method in ("GET", "HEAD") else None
        if ext is not None:
            response = HttpResponseRedirect(graph.site(f"/catalog.{ext}"), status=303)
        else:
            response = view(request, *args, **kwargs)
        patch_vary_headers(response, ["Accept"])
        return response

    return wrapper
