"""The catalog generation: a counter in the cache that every change of what anonymous visitors and buyers see bumps
(on commit), so whatever is cached for the catalog (exact counts, facet labels, CKAN tags, DCAT pages, the anonymous
page cache of marketplace/page_cache.py) is never served for an older catalog.

It lives in core, not in catalog.discovery, because accounts changes what catalog pages show too: an organization's
verification (the "verified organization" badge of its dataset pages, the /api/v1/organizations/ list).

Within a request (request_scope: marketplace.page_cache.PageCacheMiddleware opens one around every request) the
generation is read from Redis once and remembered: a catalog page asked for it five times (the page cache, the counts'
key, the key frequencies, the labels of themes, licences and publishers), each a Redis round trip. The request works
on the catalog of that moment, as a snapshot: what it caches is tagged with the generation read before its rows were
read, so a change committed by another process meanwhile is picked up by the next request. A change made by the
request itself (catalog_changed, on commit) moves the remembered value to the new generation at once, so what the
request reads after its own write is never taken for the older catalog."""

import contextvars
from contextlib import contextmanager

from django.core.cache import cache
from django.db import transaction

GENERATION_KEY = "catalog:generation"

# The remembered generation of the current request: a one-slot list (None inside a scope not read yet), or None
# outside a request (a worker, a command, a test calling a selector): every read goes to Redis then.
_SCOPE: contextvars.ContextVar[list | None] = contextvars.ContextVar("catalog_generation_scope", default=None)


@contextmanager
def request_scope(known: int | None = None):
    """Remember the generation for the code inside (a request); `known`: already read (e.g. in one round trip with
    other keys)."""
    token = _SCOPE.set([known])
    try:
        yield
    finally:
        _SCOPE.reset(token)


def remember_generation(value: int) -> None:
    """The generation just read together with other keys (the page cache's get_many): the scope's, if not read yet."""
    scope = _SCOPE.get()
    if scope is not None and scope[0] is None and value is not None:
        scope[0] = value


def catalog_generation() -> int:
    scope = _SCOPE.get()
    if scope is not None and scope[0] is not None:
        return scope[0]
    value = cache.get_or_set(GENERATION_KEY, 1, timeout=None)
    if scope is not None:
        scope[0] = value
    return value


def catalog_changed() -> None:
    """Called (on commit) whenever an entry is written or removed: cached counts are for an older catalog."""
    try:
        value = cache.incr(GENERATION_KEY)
    except ValueError:
        value = 2
        cache.set(GENERATION_KEY, value, timeout=None)
    scope = _SCOPE.get()
    if scope is not None:  # this request's own change: what it reads from now on is of the new catalog
        scope[0] = value


def bump_generation_on_commit() -> None:
    transaction.on_commit(catalog_changed)
