"""Edges of the sort-bucket routes (catalog.discovery._bucket_route, _deep_page_keys, _search_sql): an empty bucket
list, and entries published after next month (a node whose clock ran ahead, a restored or hand-edited row). Found in review of the
statements written from the compiled search: an empty list was written as one scalar parameter and the page failed."""

from datetime import timedelta

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import override_settings
from django.utils import timezone

from catalog import discovery
from catalog.filters import CatalogFilter
from catalog.models import CatalogEntry
from catalog.search import sort_keys
from tests.catalog.test_discovery import publish

pytestmark = pytest.mark.django_db


def test_an_empty_list_condition_is_the_orm_query(publisher):
    publish(publisher, "대기질 1")
    search = CatalogFilter(QueryDict(""), queryset=CatalogEntry.objects.all())
    assert search.is_valid()
    orm = discovery._ordered(search.qs.filter(sort_keys__overlap=[]), "newest", None, search, through_gin=True)
    sql, params = discovery._search_sql(search, ("pk",), ("sort_keys__overlap", []), "newest", slice(0, 5))
    assert (sql, tuple(params)) == orm.values_list("pk", flat=True)[0:5].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        assert cursor.fetchall() == []


@override_settings(CATALOG_SAMPLE_LEVELS=[1], CATALOG_EXACT_CAP=5)
@pytest.mark.parametrize("days_ahead", [100, 40])
@pytest.mark.parametrize("number", [1, 2, 7])
def test_newest_pages_hold_entries_published_after_next_month(publisher, monkeypatch, days_ahead, number):
    for i in range(40):
        publish(publisher, f"대기질 {i}")
    future = timezone.now() + timedelta(days=days_ahead)
    for i, entry in enumerate(CatalogEntry.objects.order_by("pk")[:30:2]):  # 15 of them, spread over the order
        published = future - timedelta(hours=i)  # (distinct times, all in the same far month as their bucket)
        CatalogEntry.objects.filter(pk=entry.pk).update(
            published_at=published, sort_keys=sort_keys(entry.download_count, published)
        )
    # As at a million entries (a walk of thousands of rows against a GIN scan of a few): the bucket routes are taken.
    monkeypatch.setattr(discovery, "WALK_ROW_US", 1000.0)
    monkeypatch.setattr(discovery, "GIN_SCAN_US", 0.0)
    discovery.catalog_changed()
    result = discovery.catalog_search(QueryDict("sort=newest"), page=number, page_size=5)
    expected = list(
        CatalogEntry.objects.order_by("-published_at", "pk").values_list("pk", flat=True)[(number - 1) * 5 :][:5]
    )
    assert result.total == 40
    assert [line.pk for line in result.entries] == expected


@override_settings(CATALOG_SAMPLE_LEVELS=[1], CATALOG_EXACT_CAP=5)
def test_deep_page_buckets_hold_a_top_match_downloaded_meanwhile(publisher, monkeypatch):
    """The deep page's buckets run up to the most downloaded entry's bucket read one statement before the page, and
    one doubling above it (as _bucket_route's): a top match downloaded in between moves up a bucket, and a prefix
    without that bucket would shift the page by a row while still holding a full page (a reviewer's finding)."""
    from catalog.search import downloads_bucket

    for i in range(40):
        publish(publisher, f"대기질 {i}", downloads=i)
    monkeypatch.setattr(discovery, "DEEP_PAGE_START", 0)
    search = CatalogFilter(QueryDict("q=대기질&sort=downloads"), queryset=CatalogEntry.objects.all())
    assert search.is_valid()
    keys, _inside = discovery._deep_page_keys(search, "downloads", None, 40, 20, 5)
    top = CatalogEntry.objects.order_by("-download_count").first()
    downloaded = 2 * (top.download_count + 1) - 1  # one doubling more: four buckets up
    assert downloads_bucket(downloaded) > downloads_bucket(top.download_count)
    assert f"d:{downloads_bucket(downloaded)}" in keys
