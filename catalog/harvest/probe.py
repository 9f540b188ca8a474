"""What a harvest source's address answers, checked when an admin saves the source: reachable? a CKAN portal or a
DCAT-AP catalog? how many datasets? Network only, no database: the staff view calls it before the service's
transaction (never a transaction held across an HTTP call), and keeps the answer in the audit trail.

The answer is a sentence in the reader's language (a lazy string: `str()` renders it in the language active then;
`bilingual()` gives both for the audit trail). The body is read as a stream and cut at PROBE_MAX_BYTES: a probe
never holds a large catalog in memory.
"""

import contextlib
import json
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.utils import translation
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from urllib3.exceptions import ReadTimeoutError

from catalog.harvest.readers.http import refusal
from catalog.harvest.records import SourceError
from core import outbound
from core.text import lazy_percent

PROBE_TIMEOUT = (5.0, 10.0)  # connect, each read
PROBE_TOTAL_SECONDS = 10.0  # a whole answer, however slowly it drips in
PROBE_MAX_BYTES = 5 * 1024 * 1024  # a DCAT page of a few hundred datasets fits; more is "too large to count"
USER_AGENT = "SiheungDataExchange-harvester/1.0 (+source check)"
DCAT_ACCEPT = "text/turtle, application/ld+json;q=0.9, application/rdf+xml;q=0.8, */*;q=0.1"
RDF_FORMATS = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/ld+json": "json-ld",
    "application/json": "json-ld",
    "application/rdf+xml": "xml",
    "application/xml": "xml",
    "text/xml": "xml",
}
RDF_SUFFIXES = {".ttl": "turtle", ".jsonld": "json-ld", ".rdf": "xml", ".xml": "xml"}
FORMAT_NAMES = {"turtle": "Turtle", "json-ld": "JSON-LD", "xml": "RDF/XML"}


@dataclass
class Probe:
    ok: bool
    message: object  # a lazy string: the page renders it in the reader's language
    datasets: int | None = None

    def bilingual(self) -> str:
        """The answer in Korean and English, as the audit trail keeps it."""
        with translation.override("ko"):
            ko = str(self.message)
        with translation.override("en"):
            en = str(self.message)
        return f"{ko} / {en}"


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


def _in_language(ko: str, en: str):
    """A message that exists in Korean and English only (a SourceError's), rendered in the language active then."""
    return lazy(lambda: ko if (translation.get_language() or "ko").startswith("ko") else en, str)()


def _refused(error: SourceError) -> "Probe":
    return Probe(False, _in_language(error.message_ko, error.message_en))


class _Client:
    """GETs for the check, each through core.outbound (public addresses only unless HARVEST_ALLOW_PRIVATE, pinned,
    no proxy, redirects checked at each hop)."""

    @contextlib.contextmanager
    def stream(self, url: str, headers: dict):
        with outbound.open_get(
            url,
            headers={"User-Agent": USER_AGENT, **headers},
            timeout=PROBE_TIMEOUT,
            allow_private=settings.HARVEST_ALLOW_PRIVATE,
        ) as response:
            yield response


def _read(response: requests.Response, limit: int = PROBE_MAX_BYTES) -> bytes:
    """The body, at most `limit` bytes and PROBE_TOTAL_SECONDS long: the read timeout bounds each read only, so
    a server dripping a byte every few seconds would otherwise hold the admin's request (a web worker) for hours."""
    deadline = time.monotonic() + PROBE_TOTAL_SECONDS
    body = bytearray()
    while chunk := response.raw.read1(1 << 16, decode_content=True):  # what has arrived, not a full 64 KB
        body.extend(chunk)
        if len(body) > limit:
            raise _TooLarge
        if time.monotonic() > deadline:
            raise _TooSlow
    return bytes(body)


def _unreachable(exc: Exception) -> Probe:
    timed_out = isinstance(exc, requests.Timeout) or (exc.args and isinstance(exc.args[0], ReadTimeoutError))
    if isinstance(exc, _TooSlow) or timed_out:
        return Probe(False, _("The address did not answer within 10 seconds."))
    if isinstance(exc, requests.ConnectionError):
        return Probe(
            False,
            lazy_percent(
                _("Could not connect to the address (%(reason)s). Check the address, or try again later."),
                {"reason": str(exc)[:200] or exc.__class__.__name__},
            ),
        )
    return Probe(
        False,
        lazy_percent(
            _("Could not read the address (%(reason)s)."), {"reason": str(exc)[:200] or exc.__class__.__name__}
        ),
    )


def _looks_like_html(content_type: str, body: bytes) -> bool:
    head = body[:512].lstrip().lower()
    return "html" in content_type or head.startswith((b"<!doctype html", b"<html"))


def source_probe(kind: str, url: str, filter_query: str = "") -> Probe:
    """What `url` answers for a source of `kind` ("ckan" or "dcat")."""
    client = _Client()
    try:
        if kind == "ckan":
            return _probe_ckan(client, url, filter_query)
        return _probe_dcat(client, url)
    except outbound.Refused as exc:
        return _refused(refusal(exc))
    except (requests.RequestException, _TooSlow) as exc:
        return _unreachable(exc)
    except _TooLarge:
        return Probe(False, _("The answer is larger than 5 MB: this does not look like the expected API."))


def _ckan_get(client: _Client, url: str, action: str, params: dict) -> tuple[int, str, bytes]:
    address = f"{url.rstrip('/')}/api/3/action/{action}"
    if params:
        address += "?" + urlencode(params)
    with client.stream(address, headers={"Accept": "application/json"}) as response:
        return response.status_code, response.headers.get("content-type", ""), _read(response, 1024 * 1024)


def _probe_ckan(client: _Client, url: str, filter_query: str) -> Probe:
    params = {"rows": 0}
    if filter_query:
        params["fq"] = filter_query
    status, content_type, body = _ckan_get(client, url, "package_search", params)
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or "success" not in answer:
        if _looks_like_html(content_type, body):
            return Probe(
                False,
                lazy_percent(
                    _(
                        "The address answered with a web page (HTTP %(status)s), not with CKAN's Action API. Give the "
                        "portal's base address, the one under which /api/3/action/ works."
                    ),
                    {"status": status},
                ),
            )
        return Probe(
            False,
            lazy_percent(
                _("The address answered HTTP %(status)s, but not as CKAN's Action API does."), {"status": status}
            ),
        )
    if not answer.get("success"):
        error = answer.get("error") or {}
        detail = error.get("message") or error.get("fq") or error.get("__type") or ""
        if isinstance(detail, list):
            detail = " ".join(str(d) for d in detail)
        return Probe(
            False,
            lazy_percent(
                _("The CKAN portal refused the search (HTTP %(status)s): %(detail)s. Check the filter."),
                {"status": status, "detail": str(detail)[:200] or "—"},
            ),
        )
    result = answer.get("result")
    count = result.get("count") if isinstance(result, dict) else None
    if not isinstance(count, int):
        return Probe(False, _("The CKAN portal answered without a number of datasets."))
    site = ""
    try:
        status_code, _ct, status_body = _ckan_get(client, url, "status_show", {})
        info = (json.loads(status_body).get("result") or {}) if status_code == 200 else {}
        site = " ".join(str(v) for v in (info.get("site_title") or "", info.get("ckan_version") or "") if v)[:120]
    except (requests.RequestException, outbound.Refused, ValueError, AttributeError, _TooLarge, _TooSlow):
        pass  # status_show is a courtesy: the search answered, the portal works
    if filter_query:
        message = _("CKAN portal found%(site)s: %(count)s datasets match the filter.")
    else:
        message = _("CKAN portal found%(site)s: %(count)s datasets.")
    return Probe(True, lazy_percent(message, {"site": f" ({site})" if site else "", "count": f"{count:,}"}), count)


def _probe_dcat(client: _Client, url: str) -> Probe:
    with client.stream(url, headers={"Accept": DCAT_ACCEPT}) as response:
        status = response.status_code
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        body = _read(response)
    if status != 200:
        return Probe(False, lazy_percent(_("The address answered HTTP %(status)s."), {"status": status}))
    rdf_format = RDF_FORMATS.get(content_type)
    if rdf_format is None:
        path = url.split("?")[0].lower()
        rdf_format = next((fmt for suffix, fmt in RDF_SUFFIXES.items() if path.endswith(suffix)), None)
    if rdf_format is None:
        if _looks_like_html(content_type, body):
            return Probe(
                False,
                _(
                    "The address answered with a web page, not a DCAT-AP catalog. Give the address of the catalog "
                    "document (Turtle, JSON-LD or RDF/XML), for example …/catalog.ttl."
                ),
            )
        return Probe(
            False,
            lazy_percent(
                _("The address answered “%(type)s”, which is not Turtle, JSON-LD or RDF/XML."),
                {"type": content_type[:80] or "?"},
            ),
        )
    # Imported here: rdflib is heavy and only this check (and the harvester) needs it in the web process.
    from rdflib import Namespace
    from rdflib.namespace import DCAT, RDF  # (the same reason)

    from catalog.harvest.readers.dcat import parse_page  # (the same reason: it imports rdflib)

    hydra = Namespace("http://www.w3.org/ns/hydra/core#")
    try:
        graph = parse_page(body, rdf_format, url)  # remote contexts, XML entities refused; the parse time-limited
    except SourceError as exc:
        return _refused(exc)
    except Exception as exc:  # noqa: BLE001 — any parser error is the source's, and is reported as such
        return Probe(
            False,
            lazy_percent(
                _("The catalog could not be read as %(format)s: %(reason)s"),
                {"format": FORMAT_NAMES[rdf_format], "reason": str(exc).splitlines()[0][:200] if str(exc) else "?"},
            ),
        )
    on_page = len(set(graph.subjects(RDF.type, DCAT.Dataset)))
    totals = [int(o) for o in graph.objects(None, hydra.totalItems) if str(o).isdigit()]
    has_next = any(True for _o in graph.objects(None, hydra.next))
    if not on_page and not totals:
        return Probe(
            False,
            lazy_percent(
                _("The document is valid %(format)s but holds no dcat:Dataset."), {"format": FORMAT_NAMES[rdf_format]}
            ),
        )
    if totals:
        message = lazy_percent(
            _("DCAT-AP catalog found (%(format)s): %(on_page)s datasets on the first page, %(total)s in all."),
            {"format": FORMAT_NAMES[rdf_format], "on_page": f"{on_page:,}", "total": f"{max(totals):,}"},
        )
    elif has_next:
        message = lazy_percent(
            _("DCAT-AP catalog found (%(format)s): %(on_page)s datasets on the first page; more pages follow."),
            {"format": FORMAT_NAMES[rdf_format], "on_page": f"{on_page:,}"},
        )
    else:
        message = lazy_percent(
            _("DCAT-AP catalog found (%(format)s): %(on_page)s datasets."),
            {"format": FORMAT_NAMES[rdf_format], "on_page": f"{on_page:,}"},
        )
    return Probe(True, message, max(totals) if totals else on_page)


@dataclass
class SourceValues:
    """The theme and licence values a CKAN portal's datasets use, with how many datasets use each (its search
    facets): what the mapping rules have to cover."""

    ok: bool
    groups: list[tuple[str, str, int]]  # (name, title, datasets)
    licences: list[tuple[str, str, int]]  # (license_id, title, datasets)
    tags: list[tuple[str, str, int]]  # (name, name, datasets): the most used tags, which rules may also name
    message: object = ""


VALUES_LIMIT = 200


def _facet_items(result: dict, name: str) -> list[tuple[str, str, int]]:
    items = ((result.get("search_facets") or {}).get(name) or {}).get("items")
    if isinstance(items, list):
        rows = [
            (str(i.get("name", "")), str(i.get("display_name") or i.get("name", "")), int(i.get("count") or 0))
            for i in items
            if isinstance(i, dict) and i.get("name")
        ]
    else:
        counts = (result.get("facets") or {}).get(name) or {}
        rows = [(str(k), str(k), int(v or 0)) for k, v in counts.items()] if isinstance(counts, dict) else []
    return sorted(rows, key=lambda row: (-row[2], row[0]))[:VALUES_LIMIT]


def source_values(url: str, filter_query: str = "") -> SourceValues:
    """The groups, licences and most used tags of a CKAN portal (one package_search with facets, rows=0)."""
    params = {
        "rows": 0,
        "facet.field": json.dumps(["groups", "license_id", "tags"]),
        "facet.limit": VALUES_LIMIT,
        "facet.mincount": 1,
    }
    if filter_query:
        params["fq"] = filter_query
    try:
        status, _content_type, body = _ckan_get(_Client(), url, "package_search", params)
        answer = json.loads(body)
        result = answer["result"] if status == 200 and answer.get("success") else None
    except (requests.RequestException, outbound.Refused, _TooLarge, _TooSlow, ValueError, KeyError, TypeError,
            AttributeError):  # fmt: skip
        result = None
    if not isinstance(result, dict):
        return SourceValues(
            False, [], [], [], _("The values the source uses could not be read now: the rules are shown as saved.")
        )
    return SourceValues(
        True, _facet_items(result, "groups"), _facet_items(result, "license_id"), _facet_items(result, "tags")[:30]
    )
