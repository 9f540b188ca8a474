"""The likely buckets of a large search's page (catalog.discovery._likely_keys): with sampled counts, the top sort
buckets that hold the page if the matches are spread as the catalog is are read first; when they hold fewer, the
buckets the sample points to. Either way the page is the page of the order."""

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext, override_settings

from catalog import discovery
from catalog.models import CatalogEntry
from tests.catalog.test_discovery import publish

pytestmark = pytest.mark.django_db

SIZE = 4


def test_the_likely_keys_are_the_top_buckets_expected_to_hold_the_page_with_a_margin(monkeypatch):
    frequencies = {"#": 1000, "d:10": 20, "d:9": 40, "d:8": 100, "d:7": 840, "n:202611": 30, "n:202612": 70}
    monkeypatch.setattr(discovery, "_key_frequencies", lambda: frequencies)
    keys = ["d:7", "d:8", "d:9", "d:10"]  # as _bucket_route lists them: from its edge up
    # 100 matches in 1,000 entries: 2 expected in d:10, 6 down to d:9, 16 down to d:8.
    assert discovery._likely_keys(keys, 100, 1) == ["d:10", "d:9"]  # ≥ 3 expected
    assert discovery._likely_keys(keys, 100, 2) == ["d:10", "d:9"]  # ≥ 6
    assert discovery._likely_keys(keys, 100, 5) == ["d:10", "d:9", "d:8"]  # ≥ 15
    assert discovery._likely_keys(keys, 100, 20) is None  # only all of them: nothing shorter to try
    assert discovery._likely_keys(["n:202611", "n:202612"], 500, 10) == ["n:202612"]  # 35 expected ≥ 30
    assert discovery._likely_keys(["s3:0", "s3:1", "s3:2"], 1000, 1) is None  # titles: words gather in them


def page_statements(context) -> list[str]:
    """The statements that read page ids (through buckets, or the long way)."""
    return [
        q["sql"]
        for q in context.captured_queries
        if q["sql"].startswith('SELECT "catalog_catalogentry"."dataset_id" AS "pk"')
    ]


def expected_page(number: int, order=("-download_count", "-published_at", "pk"), **filters) -> list[int]:
    ids = CatalogEntry.objects.filter(**filters).order_by(*order).values_list("pk", flat=True)
    return list(ids[(number - 1) * SIZE :][:SIZE])


@pytest.fixture
def every_bucket(monkeypatch):
    """As at a million entries: sampled counts (a 1-in-2 sample, every search above the exact cap), a walk of
    thousands of rows against a GIN scan of a few, and the sample's route down to the lowest bucket (at a million,
    a sample sees one match in 1,000: its route reads far more buckets than the page needs). The bucket routes are
    taken; what _likely_keys makes of the route's keys is recorded."""
    monkeypatch.setattr(discovery, "WALK_ROW_US", 1000.0)
    monkeypatch.setattr(discovery, "GIN_SCAN_US", 0.0)
    monkeypatch.setattr(discovery, "PAGE_SIZE", SIZE)
    original_route, original_likely = discovery._bucket_route, discovery._likely_keys

    def down_to_the_lowest(search, rows, sort, *args):
        route = original_route(search, rows, sort, *args)
        if not route:
            return route
        if route[0][0].startswith("d:"):
            keys = [f"d:{b}" for b in range(0, int(route[0][-1][2:]) + 1)]
        else:
            keys = discovery._months_from(min(key[2:] for key, _n in rows if key.startswith("n:")))
        inside = sum(n for key, n in rows if key in set(keys))  # the sampled matches in all of them
        return (keys, inside, *route[2:])

    likely = []
    monkeypatch.setattr(discovery, "_bucket_route", down_to_the_lowest)
    monkeypatch.setattr(discovery, "_likely_keys", lambda *a: likely.append(original_likely(*a)) or likely[-1])
    with override_settings(CATALOG_SAMPLE_LEVELS=[2], CATALOG_EXACT_CAP=3):
        yield likely


def search(params: str, number: int):
    discovery.catalog_changed()  # nothing counted, nothing kept: the sample's estimate
    with CaptureQueriesContext(connection) as context:
        result = discovery.catalog_search(QueryDict(params), page=number)
    assert not result.exact
    return result, page_statements(context)


@pytest.mark.parametrize("number", [1, 2])
def test_matches_spread_as_the_catalog_are_read_through_the_likely_buckets_alone(publisher, every_bucket, number):
    for i in range(80):  # every entry matches: the matches are spread over the buckets as the catalog is
        publish(publisher, f"대기질 측정 {i}", downloads=(i * 37) % 3000)
    result, statements = search("q=대기질&sort=downloads", number)
    assert [line.pk for line in result.entries] == expected_page(number)
    assert every_bucket[0]  # the likely buckets were tried: the page was in them, in one statement
    assert len(statements) == 1
    assert all(f"'{key}'" in statements[0] for key in every_bucket[0])


@pytest.mark.parametrize("number", [1, 2])
def test_matches_gathered_low_in_the_order_fall_back_to_the_samples_buckets(publisher, every_bucket, number):
    for i in range(60):  # the most downloaded entries do not match
        publish(publisher, f"교통량 조사 {i}", downloads=1000 + i * 50)
    for i in range(40):  # the matches: all downloaded a little
        publish(publisher, f"대기질 측정 {i}", downloads=i % 7)
    result, statements = search("q=대기질&sort=downloads", number)
    assert [line.pk for line in result.entries] == expected_page(number, title_ko__startswith="대기질")
    assert every_bucket[0]  # tried, and they held fewer than the page: then the route's own buckets
    assert len(statements) == 2


def test_newest_order_reads_the_likely_months_first(publisher, every_bucket):
    for i in range(60):
        publish(publisher, f"대기질 측정 {i}")  # a day apart: 60 days, two or three months
    result, statements = search("q=대기질&sort=newest", 1)
    assert [line.pk for line in result.entries] == expected_page(1, order=("-published_at", "pk"))
    assert every_bucket[0] and all(key.startswith("n:") for key in every_bucket[0])
    assert len(statements) == 1


@override_settings(CATALOG_SAMPLE_LEVELS=[1], CATALOG_EXACT_CAP=3)
def test_exact_counts_are_not_guessed(publisher, monkeypatch):
    """With exact counts the route's buckets are already the fewest that hold the page: nothing likely to try."""
    for i in range(12):
        publish(publisher, f"대기질 측정 {i}", downloads=i * 100)
    monkeypatch.setattr(discovery, "WALK_ROW_US", 1000.0)
    monkeypatch.setattr(discovery, "GIN_SCAN_US", 0.0)
    routes, calls = [], []
    original = discovery._bucket_route
    monkeypatch.setattr(discovery, "_bucket_route", lambda *a: routes.append(original(*a)) or routes[-1])
    monkeypatch.setattr(discovery, "_likely_keys", lambda *a: calls.append(a))
    discovery.catalog_changed()
    result = discovery.catalog_search(QueryDict("q=대기질&sort=downloads"), page=1, page_size=SIZE)
    assert routes and routes[0]  # the bucket route was taken
    assert calls == []
    assert [line.pk for line in result.entries] == expected_page(1)
