"""A filter value most of the catalog holds ("free": 93 % at a million) is checked on the rows, not in the GIN index,
by the page statement of a large search through its sort buckets (catalog.discovery._common_on_rows): decoding its
posting list cost more than the rows it spared (the page of "음식점 인허가"&price=free: 6.1 → 2.3 ms). Only when the
search's words bound the rows of its other conditions to at most twice its matches; its samples, its exact statement
and the worker's count keep every filter in the index (review: a licence mostly sold, "free" checked on the rows,
read ten times the rows). The answers are the same; only the statements differ."""

import re

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext, override_settings

from catalog import discovery, lexemes
from catalog.discovery import catalog_search, exact_counts
from tests.catalog.test_discovery import publish

pytestmark = pytest.mark.django_db

IN_INDEX = re.compile(r"\"facet_keys\" @> \(?ARRAY\['\$:free'\]")
ON_ROWS = re.compile(r"arraycontains\(\"catalog_catalogentry\".\"facet_keys\", \(?ARRAY\['\$:free'\]")
PAGE_THROUGH_BUCKETS = re.compile(r'^SELECT "catalog_catalogentry"."dataset_id" AS "pk" FROM .*"sort_keys" &&', re.S)


def frequencies(free_share: float, entries: int = 100_000) -> dict:
    return {
        "#": entries,
        "$:free": int(entries * free_share),
        "$:paid": int(entries * (1 - free_share)),
        discovery.TITLE_SET: 0,
        discovery.TRUNCATED: set(),
    }


@pytest.fixture
def large_search(monkeypatch):
    """As at a million: the search is above the cap (sampled counts, 1-in-2), its page read through its sort buckets
    (a walk priced out), and the key frequencies of a catalog large enough to tell a common value."""
    monkeypatch.setattr(discovery, "WALK_ROW_US", 1000.0)
    monkeypatch.setattr(discovery, "GIN_SCAN_US", 0.0)
    monkeypatch.setattr(discovery, "PAGE_SIZE", 4)
    with override_settings(CATALOG_SAMPLE_LEVELS=[2], CATALOG_EXACT_CAP=3):
        yield


def run(params: str, monkeypatch, keyfreq: dict):
    monkeypatch.setattr(discovery, "_key_frequencies", lambda: keyfreq)
    discovery.catalog_changed()
    with CaptureQueriesContext(connection) as context:
        result = catalog_search(QueryDict(params))
    statements = [q["sql"] for q in context.captured_queries if "$:free" in q["sql"]]
    pages = [s for s in statements if PAGE_THROUGH_BUCKETS.search(s)]
    return result, pages, [s for s in statements if s not in pages]


def same(a, b):
    assert (a.total, a.exact, a.facets) == (b.total, b.exact, b.facets)
    assert [e.pk for e in a.entries] == [e.pk for e in b.entries]


def test_the_page_through_buckets_checks_a_common_value_on_the_rows_and_the_answer_is_the_same(
    publisher, large_search, monkeypatch
):
    for i in range(40):
        publish(publisher, f"대기질 측정 {i}", kinds=("free",) if i % 10 else ("one_off",), downloads=i)
    lexemes.lexeme_frequencies_count()
    common, pages, others = run("q=대기질&price=free", monkeypatch, frequencies(0.93))
    assert pages and all(ON_ROWS.search(s) and not IN_INDEX.search(s) for s in pages)
    assert others and all(IN_INDEX.search(s) for s in others)  # its samples: in the index
    rare, pages, _others = run("q=대기질&price=free", monkeypatch, frequencies(0.5))
    assert pages and all(IN_INDEX.search(s) and not ON_ROWS.search(s) for s in pages)
    same(common, rare)
    assert not common.exact and [e.download_count for e in common.entries] == [39, 38, 37, 36]


def test_not_when_the_filter_may_drop_more_than_half_of_the_rows_the_words_find(monkeypatch):
    """The words bound the rows of the other conditions (catalog.lexemes): the common filter is checked on the rows
    only when they are at most twice the search's matches (a word mostly sold: "free" would multiply the rows)."""
    from django.core.cache import cache

    from catalog.filters import CatalogFilter
    from catalog.models import CatalogEntry

    counted = lexemes.LexemeFrequencies(modulus=100, floor=19, counts={"대기질": 400}, entries=10_000, counted_at=1.0)
    cache.set(lexemes.LEXEMES_KEY, counted.as_dict(), 60)
    lexemes.forget()
    bound = counted.matches_at_most(["대기질"])  # ~44,300
    search = CatalogFilter(QueryDict("q=대기질&price=free"), queryset=CatalogEntry.objects.all(), common=lambda k: True)
    assert search.is_valid() and search.qs is not None and search.common_on_rows
    assert discovery._common_on_rows(search, total=int(bound / 2) + 1)
    assert not discovery._common_on_rows(search, total=int(bound / 2) - 1)
    assert not discovery._common_on_rows(search, total=int(bound * 2))  # above the bound: stale counts, no bound
    plain = CatalogFilter(QueryDict("q=대기질&price=free"), queryset=CatalogEntry.objects.all(), common=lambda k: False)
    assert plain.is_valid() and plain.qs is not None and not discovery._common_on_rows(plain, total=int(bound))
    english = CatalogFilter(QueryDict("q=air&price=free"), queryset=CatalogEntry.objects.all(), common=lambda k: True)
    assert english.is_valid() and english.qs is not None and not discovery._common_on_rows(english, total=10**6)


def test_not_without_words_to_bound_the_rows(publisher, large_search, monkeypatch):
    for i in range(12):
        publish(publisher, f"측정 {i}", kinds=("free",), downloads=i)
    lexemes.lexeme_frequencies_count()
    _result, pages, _others = run("price=free&sort=downloads", monkeypatch, frequencies(0.93))
    assert not any(ON_ROWS.search(s) for s in pages)


def test_not_in_a_catalog_too_small_to_tell(publisher, large_search, monkeypatch):
    for i in range(40):
        publish(publisher, f"대기질 측정 {i}", kinds=("free",), downloads=i)
    lexemes.lexeme_frequencies_count()
    _result, pages, _others = run("q=대기질&price=free", monkeypatch, frequencies(0.93, entries=199))
    assert pages and not any(ON_ROWS.search(s) for s in pages)


@override_settings(CATALOG_SAMPLE_LEVELS=[1], CATALOG_EXACT_CAP=100)
def test_the_exact_statement_and_a_workers_count_keep_every_filter_in_the_index(publisher, monkeypatch):
    for i in range(12):
        publish(publisher, f"대기질 측정 {i}", kinds=("free",) if i % 4 else ("one_off",))
    monkeypatch.setattr(discovery, "_key_frequencies", lambda: frequencies(0.93))
    with CaptureQueriesContext(connection) as context:
        result = catalog_search(QueryDict("q=대기질&price=free"))
        assert exact_counts(QueryDict("q=대기질&price=free")) == 9
    assert result.exact and result.total == 9
    free = [q["sql"] for q in context.captured_queries if "$:free" in q["sql"]]
    assert free and all(IN_INDEX.search(s) and not ON_ROWS.search(s) for s in free)
