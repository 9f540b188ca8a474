"""Title buckets (catalog.services.title_buckets): every entry's key says where its title stands among the set's
edges, as PostgreSQL orders the titles, and stays right through writes, downloads, new sets and seeding."""

import pytest
from django.db import connection
from django.http import QueryDict

from catalog import services
from catalog.discovery import catalog_search
from catalog.models import CatalogEntry, TitleBucketEdge, TitleBucketSet
from catalog.services.title_buckets import TitleBucketsBusy, current_set_id, title_buckets_build
from tests.catalog.test_discovery import publish, publisher  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def _bucket_of(entry, set_id):
    keys = [k for k in entry.sort_keys if k.startswith(f"s{set_id}:")]
    assert len(keys) == 1, entry.sort_keys
    return int(keys[0].split(":")[1])


def _assert_keys_follow_the_title_order(set_id):
    """Along ORDER BY title_ko, pk (PostgreSQL's order) the buckets never go down, and a bucket's number is how many
    edges are at or before the title."""
    edges = list(TitleBucketEdge.objects.filter(bucket_set_id=set_id).values_list("title", flat=True))
    entries = list(CatalogEntry.objects.order_by("title_ko", "pk"))
    buckets = [_bucket_of(e, set_id) for e in entries]
    assert buckets == sorted(buckets)
    with connection.cursor() as cursor:
        for entry, bucket in zip(entries, buckets, strict=True):
            cursor.execute("SELECT count(*) FROM unnest(%s::text[]) AS e WHERE e <= %s", [edges, entry.title_ko])
            assert cursor.fetchone()[0] == bucket


def test_a_set_keys_every_entry_by_where_its_title_stands(publisher):  # noqa: F811
    titles = [
        "가로등",
        "CCTV 현황",
        "(구) 주차장",
        "주차장",
        "2024 교통량",
        "버스 노선",
        "가로등",
        "하천 수위",
        "ㄱ자료",
    ]
    for i, title in enumerate(titles * 3):
        publish(publisher, f"{title} {i % 4}")
    built = title_buckets_build(buckets=5)
    assert built.complete and current_set_id() == built.pk and 2 <= built.edges.count() <= 4
    _assert_keys_follow_the_title_order(built.pk)


def test_writes_downloads_and_a_new_set_keep_the_keys_right(publisher):  # noqa: F811
    for i in range(12):
        publish(publisher, f"자료 {i:02d}")
    first = title_buckets_build(buckets=4)
    # A new entry and a renamed one get their key at once (computed by PostgreSQL on write).
    dataset = publish(publisher, "자료 05 새것", downloads=2)
    _assert_keys_follow_the_title_order(first.pk)
    # A download moving the entry into the next popularity bucket keeps its title key.
    services.dataset_count_download(dataset.pk)
    entry = CatalogEntry.objects.get(pk=dataset.pk)
    assert "d:8" in entry.sort_keys and _bucket_of(entry, first.pk) >= 0
    # A second set: entries carry both while it is built (writes meanwhile too), then only the new one's.
    second = title_buckets_build(buckets=3)
    assert current_set_id() == second.pk
    _assert_keys_follow_the_title_order(second.pk)
    third = title_buckets_build(buckets=2)
    assert not TitleBucketSet.objects.filter(pk=first.pk).exists()  # older than the current: gone
    assert not any(k.startswith(f"s{first.pk}:") for e in CatalogEntry.objects.all() for k in e.sort_keys)
    _assert_keys_follow_the_title_order(third.pk)


def test_an_entry_written_while_a_set_is_built_gets_its_key(publisher):  # noqa: F811
    for i in range(6):
        publish(publisher, f"자료 {i}")
    building = TitleBucketSet.objects.create()  # as title_buckets_build leaves it before its pass
    TitleBucketEdge.objects.create(bucket_set=building, title="자료 3")
    dataset = publish(publisher, "자료 9")
    assert _bucket_of(CatalogEntry.objects.get(pk=dataset.pk), building.pk) == 1
    assert current_set_id() is None  # not complete: searches do not use it


def test_one_build_at_a_time(publisher):  # noqa: F811
    from django.db import connections

    publish(publisher, "자료")
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [0x7469746C])
        with pytest.raises(TitleBucketsBusy):
            title_buckets_build(buckets=2)
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
def test_the_command_builds_and_title_pages_use_the_buckets(publisher, settings):  # noqa: F811
    from django.core.management import call_command

    settings.CATALOG_EXACT_CAP = 3
    settings.CATALOG_SAMPLE_LEVELS = [1]
    for i in range(30):
        publish(publisher, f"대기질 {(i * 11) % 30:02d}")
    call_command("catalog_title_buckets", "--buckets", "5")
    expected = list(CatalogEntry.objects.order_by("title_ko", "pk").values_list("pk", flat=True))
    result = catalog_search(QueryDict("q=대기질&sort=title"), page=2)
    assert [e.pk for e in result.entries] == expected[20:30]


@pytest.mark.django_db(transaction=True)
def test_an_entry_written_by_a_transaction_open_across_a_build_gets_the_new_sets_key(publisher):  # noqa: F811
    """A use case's transaction wrote a new entry (its title keys computed for the sets present then: none) and
    commits only after the build's pass went by: the pass did not see the uncommitted row, so the completed set
    would serve title pages without that entry. The build waits for such transactions before its pass."""
    import threading
    import time

    from django.db import connection as main_connection
    from django.db import transaction

    for i in range(6):
        publish(publisher, f"자료 {i}")
    written, commit = threading.Event(), threading.Event()
    found = {}

    def writer():
        try:
            with transaction.atomic():
                found["pk"] = publish(publisher, "자료 99").pk
                written.set()
                commit.wait(10)
        finally:
            main_connection.close()

    def builder():
        try:
            found["set"] = title_buckets_build(buckets=3).pk
        finally:
            main_connection.close()

    threads = [threading.Thread(target=writer)]
    threads[0].start()
    assert written.wait(10)
    threads.append(threading.Thread(target=builder))
    threads[1].start()
    time.sleep(1.5)  # the build has made its set (and, without waiting, finished its pass)
    commit.set()
    for thread in threads:
        thread.join(30)
    assert current_set_id() == found["set"]
    _bucket_of(CatalogEntry.objects.get(pk=found["pk"]), found["set"])  # exactly one key of the set
    _assert_keys_follow_the_title_order(found["set"])
