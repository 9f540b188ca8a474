"""The catalog generation: a counter in the cache that every change of what anonymous visitors and buyers see bumps
(on commit), so whatever is cached for the catalog (exact counts, facet labels, CKAN tags, DCAT pages, the anonymous
page cache of marketplace/page_cache.py) is never served for an older catalog.

It lives in core, not in catalog.discovery, because accounts changes what catalog pages show too: an organization's
verification (the "verified organization" badge of its dataset pages, the /api/v1/organizations/ list).

Within a request (`generation_per_request`, opened by marketplace.page_cache.PageCacheMiddleware for every request)
the generation is read from Redis once: the page cache's own read of it, or the first use; the counts' keys and the
per-process labels of facet values (catalog.discovery) reuse it instead of a round trip each. A bump committed by the
request itself is what later reads of that request see. Outside a request (tasks, commands) every call reads Redis."""

from contextlib import contextmanager
from contextvars import ContextVar

from django.core.cache import cache
from django.db import transaction

GENERATION_KEY = "catalog:generation"

# The generation read by the current request ([] before its first read); None outside a request.
_request_generation: ContextVar[list[int] | None] = ContextVar("catalog_generation_of_request", default=None)


def catalog_generation() -> int:
    known = _request_generation.get()
    if known:
        return known[0]
    generation = cache.get_or_set(GENERATION_KEY, 1, timeout=None)
    if known is not None:
        known.append(generation)
    return generation


def remember_generation(generation: int) -> None:
    """The generation the request read itself (the page cache's MGET): the rest of the request uses it."""
    known = _request_generation.get()
    if known is not None:
        known[:] = [generation]


@contextmanager
def generation_per_request():
    token = _request_generation.set([])
    try:
        yield
    finally:
        _request_generation.reset(token)


def catalog_changed() -> None:
    """Called (on commit) whenever an entry is written or removed: cached counts are for an older catalog."""
    try:
        generation = cache.incr(GENERATION_KEY)
    except ValueError:
        generation = 2
        cache.set(GENERATION_KEY, generation, timeout=None)
    remember_generation(generation)


def bump_generation_on_commit() -> None:
    transaction.on_commit(catalog_changed)
