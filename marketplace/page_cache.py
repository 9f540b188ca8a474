"""The anonymous page cache: pages that are the same for every visitor who is not signed in, kept in Redis per
catalog generation, so a repeat costs two Redis round trips and no SQL, and a catalog change is visible at once.

What is cached (PAGE_CACHE_VIEWS, one allow-list of URL names): the home page, the catalog's results (one entry per
full URL), dataset pages, the CKAN Action API, the DCAT documents and the public /api/v1/ lists. Only GET and HEAD.

Who never gets or makes a cached page: a request with an Authorization header or an API key header, a session of a
signed-in user, or messages waiting (a cookie or the session). Such a request runs the view as before.

The key: the language the site chose (request.LANGUAGE_CODE: the language cookie, or Accept-Language on /api/), the
method, the scheme and host (the API's links are absolute), the full path with its query string, and what the answers vary on: the format the Accept header picks where
a view negotiates (the dataset page's and the catalog's RDF; DRF's whole Accept), and htmx's request headers
(HX-Request, HX-History-Restore-Request: the catalog's results alone).
The catalog generation (catalog.discovery, bumped on commit of every catalog change) is stored in the entry and
compared on every read, so an entry of an older catalog is never served: one Redis round trip reads both.

What is stored: only a 200 that is not streamed, is not made of estimated counts a worker is counting exactly (they
are exact seconds later), sets no cookie, leaves the session and the messages untouched, is not
marked private/no-store/no-cache, varies on nothing outside the key and is at most PAGE_CACHE_MAX_BYTES; and only at
the second request for the same key within PAGE_CACHE_SECONDS (the first leaves a small marker): a stream of
never-seen search URLs (a crawler) cannot fill the Redis the task queue shares with pages nobody asks for again; and
the bytes stored per PAGE_CACHE_SECONDS are capped (PAGE_CACHE_BUDGET_BYTES: pages in Redis stay under twice that), as
a script can ask each of its URLs twice; one client address stores at most PAGE_CACHE_ADDRESS_BUDGET_BYTES of them, so
such a script cannot spend the budget of everyone else. Every entry expires after PAGE_CACHE_SECONDS, so what changes without a catalog change (download
counts) is at most that old. (An organization's, theme's or licence's edit and a live table's state do bump the generation;
a dataset page showing live tables is sent with Cache-Control: no-cache, as its rows' age and count move with every push.)

Per-request content is never shared. The middleware sits inside CsrfViewMiddleware and CSPMiddleware:
- CSRF: the masked tokens in the stored page (the language switch's form, htmx's X-CSRFToken header) are found by
  unmasking every 64-character token against the storing request's secret and are replaced, when the page is served,
  by a token of the new visitor (django.middleware.csrf.get_token, which also gives them the cookie when they have
  none). No visitor ever sees another visitor's CSRF secret, and the language switch works for every visitor. A page
  where such a token also stands outside the places templates write tokens (text a client made from a CSRF cookie of
  its own choosing, e.g. an echoed search word) is not stored.
- CSP nonce: the stored page's nonce is replaced by a fresh nonce of the serving request, and CSPMiddleware writes
  that nonce in the header: every answer has its own nonce, as without the cache. A nonce in a stored body was
  random when the body was made and appears nowhere else, so content could not have contained it beforehand.
- The request id (X-Request-ID), the CSP header, X-Frame-Options, Content-Language and Vary are added by the outer
  middleware on every answer, hit or miss. The decorators' marks on a response that CSPMiddleware and
  XFrameOptionsMiddleware read (csp_update, xframe_options_exempt, …) are stored with it.
A hit is answered before the middleware below this one (htmx, allauth, organizations, policies, MFA, django-structlog's
request log lines): none of them does anything for an anonymous GET of these pages; nginx's access log records hits.

Cache hits are not counted against the API's per-address budget (API_RATE_PER_IP): they cost about a millisecond.
Clients cannot force a miss (Cache-Control: no-cache from a client is ignored), or the cache would be no protection.
"""

import hashlib
import ipaddress
import re

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.http import HttpResponse
from django.middleware.csrf import _unmask_cipher_token, get_token  # the token format of Django 5.2's CSRF
from django.urls import Resolver404, resolve

from catalog import discovery
from catalog.dcat.views import negotiated
from core import generation as core_generation
from core.http import client_ip

# URL names (namespace:name) of pages that are the same for every anonymous visitor, each with what of the Accept
# header its answer depends on: RDF, the format catalog.dcat's content negotiation picks (None: HTML); RAW, the whole
# header (DRF's negotiation); None, nothing (the answer is the same whatever the Accept).
RDF, RAW = "rdf", "raw"
PAGE_CACHE_VIEWS = {
    "home": None,
    "catalog:index": RDF,  # RDF asked for: a 303 to /catalog.ttl (never stored); HTML otherwise
    "catalog:dataset": RDF,  # the dataset page or its RDF
    # CKAN's Action API: every action is a public read (catalog/ckan/views.py), JSON whatever the Accept.
    "ckan-action-3": None,
    "ckan-action": None,
    # DCAT-AP documents (catalog.dcat caches its catalog pages too; this saves the rest of the request).
    "dcat:catalog": None,
    "dcat:dataset": None,
    "dcat:themes": RDF,
    "dcat:themes_document": None,
    # /api/v1/ lists without a key.
    "api-catalog-datasets": RAW,
    "api-catalog-themes": RAW,
    "api-catalog-licences": RAW,
    "api-catalog-organizations": RAW,
}
# Request headers in every key: htmx's requests get the catalog's results alone.
KEY_HEADERS = ("HTTP_HX_REQUEST", "HTTP_HX_HISTORY_RESTORE_REQUEST", "HTTP_HX_BOOSTED")
# Vary headers an answer may carry and still be stored: the key or the bypass rules cover each.
VARY_COVERED = {"accept-language", "cookie", "hx-request", "hx-history-restore-request", "hx-boosted"}
# Request headers that carry an API key (ours: Authorization; CKAN clients: X-CKAN-API-Key or Authorization).
KEY_CARRIERS = ("HTTP_AUTHORIZATION", "HTTP_X_CKAN_API_KEY", "HTTP_X_API_KEY")
# Marks of decorators (django-csp, clickjacking) that the outer middleware read from the response object.
RESPONSE_MARKS = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_exempt",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
    "_csp_exempt_ro",
    "xframe_options_exempt",
)
MAX_PATH = 2000  # longer URLs are not cached (no legitimate page has one)
TOKEN_RE = re.compile(rb"(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])")
# Where the templates write a token: {% csrf_token %}, htmx's header (base.html), data-csrf / data-csrf-token.
TOKEN_PLACES = re.compile(
    rb'(?:name="csrfmiddlewaretoken" value="|"X-CSRFToken": "|data-csrf(?:-token)?=")([A-Za-z0-9]{64})"'
)
HEADER = "X-Page-Cache"
BUDGET_KEY = "page:budget"  # bytes of pages stored since the window began (PAGE_CACHE_BUDGET_BYTES)


_NOT_CACHED = object()


def accept_mode(request):
    """The view's Accept mode (PAGE_CACHE_VIEWS), or _NOT_CACHED for every other URL."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return _NOT_CACHED
    return PAGE_CACHE_VIEWS.get(match.view_name, _NOT_CACHED)


def bypass(request) -> bool:
    """True when the request must run the view: not a read, a key or a signed-in session, messages waiting."""
    if request.method not in ("GET", "HEAD") or len(request.get_full_path()) > MAX_PATH:
        return True
    if any(request.META.get(name) for name in KEY_CARRIERS):
        return True
    if CookieStorage.cookie_name in request.COOKIES:
        return True
    if settings.SESSION_COOKIE_NAME in request.COOKIES:
        session = request.session  # read from Redis (cached_db); a request without the cookie reads nothing
        if session.get(SESSION_KEY) is not None or session.get("_messages"):
            return True
    return False


def cache_key(request, mode) -> str:
    accept = ""
    if mode == RDF:
        accept = negotiated(request) or "html"  # the views' own choice (catalog.dcat.views.negotiated)
    elif mode == RAW:
        accept = request.META.get("HTTP_ACCEPT", "")
    # The scheme and host too: the API's links are absolute (request.build_absolute_uri).
    parts = [request.LANGUAGE_CODE, request.method, request.scheme, request.get_host(), request.get_full_path(), accept]
    parts += [request.META.get(name, "") for name in KEY_HEADERS]
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogateescape")).hexdigest()
    return f"page:{digest}"


def _vary_covered(response, mode) -> bool:
    covered = VARY_COVERED if mode is None else {*VARY_COVERED, "accept"}
    vary = response.get("Vary", "")
    return all(v.strip().lower() in covered for v in vary.split(",") if v.strip())


def storable(request, response, mode) -> bool:
    if response.status_code != 200 or response.streaming or response.cookies:
        return False
    cache_control = response.get("Cache-Control", "").lower()
    if any(word in cache_control for word in ("private", "no-store", "no-cache")):
        return False
    if not _vary_covered(response, mode) or len(response.content) > settings.PAGE_CACHE_MAX_BYTES:
        return False
    session = getattr(request, "session", None)
    if session is not None and session.modified:
        return False
    storage = getattr(request, "_messages", None)
    return not (storage is not None and getattr(storage, "_queued_messages", None))


def _csrf_tokens(request, body: bytes) -> list[bytes] | None:
    """The masked CSRF tokens of this request's secret in the body (each found by unmasking it); None when one of
    them also stands where no token is written (TOKEN_PLACES): a client that chose its CSRF cookie can make text that
    unmasks to it (a search word the page echoes), which must not become each later visitor's token."""
    secret = request.META.get("CSRF_COOKIE")
    if not secret:
        return []
    found = set()
    for match in TOKEN_RE.finditer(body):
        token = match.group()
        if token not in found and _unmask_cipher_token(token.decode("ascii")) == secret:
            found.add(token)
    placed = {}
    for match in TOKEN_PLACES.finditer(body):
        placed[match.group(1)] = placed.get(match.group(1), 0) + 1
    if any(body.count(token) != placed.get(token, 0) for token in found):
        return None
    return sorted(found)


def entry_for(request, response, generation: int) -> dict | None:
    """What is stored of the response; None when it cannot be (a token-like text of the client's own making)."""
    body = response.content
    html = response.get("Content-Type", "").startswith("text/html")
    nonce = getattr(request, "_csp_nonce", None)  # a str once the page used request.csp_nonce
    tokens = _csrf_tokens(request, body) if html else []
    if tokens is None:
        return None
    return {
        "generation": generation,
        "status": response.status_code,
        "body": body,
        "headers": [(k, v) for k, v in response.items() if k.lower() != HEADER.lower()],
        "marks": {name: getattr(response, name) for name in RESPONSE_MARKS if hasattr(response, name)},
        "csrf": tokens,
        "nonce": nonce.encode("ascii") if isinstance(nonce, str) and nonce.encode("ascii") in body else None,
    }


def _spend(key: str, size: int, budget: int) -> bool:
    """Add `size` to the window's counter `key` (it expires with the window); whether it stays within `budget`."""
    cache.add(key, 0, settings.PAGE_CACHE_SECONDS)
    try:
        return cache.incr(key, size) <= budget
    except ValueError:  # the window ended between the two calls: the next page starts the next one
        return False


def _address_of(request) -> str:
    """Whose share of the budget a store spends: the client's address (core.http.client_ip), an IPv6 one by its /64
    (what one subscriber is given)."""
    address = client_ip(request)
    if address is None:
        return "-"
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped:  # an IPv4 client seen through a dual-stack socket
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else address


def address_budget_key(address: str) -> str:
    """The window's counter of the bytes stored by one client address (_address_of)."""
    return f"{BUDGET_KEY}:{address}"


def within_budget(request, size: int) -> bool:
    """Whether `size` more bytes of pages may be stored: at most PAGE_CACHE_BUDGET_BYTES per window of
    PAGE_CACHE_SECONDS (the counter expires with the window). An entry lives at most PAGE_CACHE_SECONDS, so the pages
    in Redis never exceed twice the budget, whatever a script asks (each of its URLs twice defeats the marker).
    And at most PAGE_CACHE_ADDRESS_BUDGET_BYTES of it stored by one client address: one script asking never-seen
    URLs twice (a dataset page with a query string of its own making) would otherwise spend the whole budget, and no
    page — the home page expired or a new generation's included — would be kept for anyone until the window ends."""
    own = address_budget_key(_address_of(request))
    if not _spend(own, size, settings.PAGE_CACHE_ADDRESS_BUDGET_BYTES):
        return False
    if _spend(BUDGET_KEY, size, settings.PAGE_CACHE_BUDGET_BYTES):
        return True
    try:  # nothing kept: the address's share is not spent on it
        cache.decr(own, size)
    except ValueError:
        pass
    return False


def response_from(request, entry: dict) -> HttpResponse:
    body = entry["body"]
    if entry["csrf"]:
        token = get_token(request).encode("ascii")  # the visitor's own (a new cookie when they have none)
        for old in entry["csrf"]:
            body = body.replace(old, token)
    if entry["nonce"]:
        body = body.replace(entry["nonce"], str(request.csp_nonce).encode("ascii"))
    response = HttpResponse(body, status=entry["status"])
    for name, value in entry["headers"]:
        response[name] = value
    response["Content-Length"] = str(len(body))
    for name, value in entry["marks"].items():
        setattr(response, name, value)
    response[HEADER] = "hit"
    return response


class PageCacheMiddleware:
    """Serves and stores the anonymous pages of PAGE_CACHE_VIEWS (see the module's docstring). Placed after
    CSPMiddleware (it needs the session, the language, the CSRF secret and the nonce of the request)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Every request reads the catalog generation once (core.generation.request_scope), cached pages or not.
        with core_generation.request_scope():
            return self._respond(request)

    def _respond(self, request):
        if not settings.PAGE_CACHE or bypass(request):
            return self.get_response(request)
        mode = accept_mode(request)
        if mode is _NOT_CACHED:
            return self.get_response(request)
        key = cache_key(request, mode)
        found = cache.get_many([discovery.GENERATION_KEY, key])
        generation = found.get(discovery.GENERATION_KEY) or discovery.catalog_generation()
        core_generation.remember_generation(generation)  # the request's other reads of it cost no round trip
        entry = found.get(key)
        if entry is not None and entry.get("generation") == generation and "body" in entry:
            return response_from(request, entry)
        pending = discovery.ESTIMATES_PENDING.set(False)
        try:
            response = self.get_response(request)
            estimates = discovery.ESTIMATES_PENDING.get()
        finally:
            discovery.ESTIMATES_PENDING.reset(pending)
        if not estimates and storable(request, response, mode):
            seen = entry is not None and entry.get("generation") == generation
            stored = entry_for(request, response, generation) if seen else None
            if stored is not None and within_budget(request, len(response.content)):  # seen once already: keep it
                cache.set(key, stored, settings.PAGE_CACHE_SECONDS)
            elif not seen:
                cache.set(key, {"generation": generation}, settings.PAGE_CACHE_SECONDS)
        response[HEADER] = "miss"
        return response
