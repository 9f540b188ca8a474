"""The catalog generation: a counter in the cache that every change of what anonymous visitors and buyers see bumps
(on commit), so whatever is cached for the catalog (exact counts, facet labels, CKAN tags, DCAT pages, the anonymous
page cache of marketplace/page_cache.py) is never served for an older catalog.

It lives in core, not in catalog.discovery, because accounts changes what catalog pages show too: an organization's
verification (the "verified organization" badge of its dataset pages, the /api/v1/organizations/ list)."""

from django.core.cache import cache
from django.db import transaction

GENERATION_KEY = "catalog:generation"


def catalog_generation() -> int:
    return cache.get_or_set(GENERATION_KEY, 1, timeout=None)


def catalog_changed() -> None:
    """Called (on commit) whenever an entry is written or removed: cached counts are for an older catalog."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.set(GENERATION_KEY, 2, timeout=None)


def bump_generation_on_commit() -> None:
    transaction.on_commit(catalog_changed)
