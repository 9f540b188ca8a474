"""Issue 18: a catalog page reads the catalog generation from Redis once (core.generation.request_scope), builds no
Redis client per cache call (core.cache), and still sees its own catalog change at once."""

import pytest
import redis
from django.core.cache import cache
from django.db import transaction
from django.test.utils import override_settings

from catalog import discovery
from catalog.models import Theme
from core import generation
from tests.catalog.test_discovery import publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_commands(monkeypatch):
    """Every command sent to Redis (the library's entry point, counted, then run)."""
    sent = []
    execute = redis.Redis.execute_command

    def counted(self, *args, **options):
        sent.append(args)
        return execute(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counted)
    return sent


def _generation_reads(sent):
    key = cache.make_key(generation.GENERATION_KEY)
    return [args for args in sent if key in args[1:]]


@pytest.mark.parametrize("page_cache", [False, True])
def test_a_catalog_page_reads_the_generation_once(publisher, client, redis_commands, page_cache):
    publish(publisher, "대기질 측정 자료", kinds=("free",))
    publish(publisher, "대기 오염 예보", kinds=("one_off",), theme="transport")
    client.get("/catalog/", {"q": "대기"})  # warm the process (labels of an earlier generation are read again)
    discovery.catalog_changed()
    redis_commands.clear()
    with override_settings(PAGE_CACHE=page_cache):
        response = client.get("/catalog/", {"q": "대기", "theme": "environment"})
    assert response.status_code == 200 and "대기질 측정 자료" in response.content.decode()
    # Read once: by the page cache's MGET with the page's key, or by the first reader (the counts' key); not by the
    # counts, the key frequencies and the labels of themes, licences and publishers each.
    reads = _generation_reads(redis_commands)
    assert len(reads) == 1, reads
    assert reads[0][0] == ("MGET" if page_cache else "GET")


def test_no_redis_client_is_built_per_cache_call(publisher, client, monkeypatch):
    publish(publisher, "대기질 측정 자료")
    client.get("/catalog/", {"q": "대기"})
    built = []
    init = redis.Redis.__init__

    def counted(self, *args, **kwargs):
        built.append(1)
        init(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counted)
    discovery.catalog_changed()
    assert client.get("/catalog/", {"q": "대기", "sort": "title"}).status_code == 200
    assert cache.get(generation.GENERATION_KEY) is not None
    assert built == []


def test_a_request_works_on_one_generation_and_sees_its_own_change(redis_commands):
    outside = generation.catalog_generation()
    with generation.request_scope():
        seen = generation.catalog_generation()
        assert seen == outside
        cache.incr(generation.GENERATION_KEY)  # another process's change, meanwhile: the next request's
        redis_commands.clear()
        assert generation.catalog_generation() == seen and redis_commands == []
        generation.catalog_changed()  # this request's own change: read from now on as the new catalog
        assert generation.catalog_generation() == seen + 2 == cache.get(generation.GENERATION_KEY)
    # Outside a request every read goes to Redis, as before.
    cache.incr(generation.GENERATION_KEY)
    assert generation.catalog_generation() == seen + 3


def test_a_generation_missing_from_redis_is_created_once_in_a_request():
    before = generation.catalog_generation()
    cache.delete(generation.GENERATION_KEY)
    try:
        with generation.request_scope():
            assert generation.catalog_generation() == 1 == generation.catalog_generation()
            generation.catalog_changed()
            assert generation.catalog_generation() == 2 == cache.get(generation.GENERATION_KEY)
    finally:
        # Later tests must not meet the generations they had (counts and pages are cached per generation).
        cache.set(generation.GENERATION_KEY, before + 10, timeout=None)


def test_labels_edited_in_a_request_show_in_the_same_request(reference_data, django_capture_on_commit_callbacks):
    theme = Theme.objects.get(code="environment")
    with generation.request_scope():
        before = discovery._reference_labels("theme")[theme.pk].name_ko
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            Theme.objects.filter(pk=theme.pk).update(name_ko="환경 (고침)")
            generation.bump_generation_on_commit()
        assert before != "환경 (고침)"
        assert discovery._reference_labels("theme")[theme.pk].name_ko == "환경 (고침)"


def test_a_workers_exact_counts_are_not_kept_for_a_catalog_changed_while_it_counted(
    publisher, monkeypatch, django_capture_on_commit_callbacks
):
    """The worker reads the generation before the rows (core.generation): a dataset published while it counts bumps
    the generation after, so the figures it read are not taken for the new catalog's. Before, the key was read after
    the rows: the new catalog's search said exactly 3 matches, a day long, while it listed 4."""
    from django.http import QueryDict

    for n in range(3):
        publish(publisher, f"미세먼지 측정 자료 {n}")
    original = discovery._facet_rows

    def published_meanwhile(qs, **kwargs):
        rows = original(qs, **kwargs)
        monkeypatch.setattr(discovery, "_facet_rows", original)
        with django_capture_on_commit_callbacks(execute=True):
            publish(publisher, "미세먼지 측정 자료 새것")  # committed (and the generation bumped) while counting
        return rows

    monkeypatch.setattr(discovery, "_facet_rows", published_meanwhile)
    before = generation.catalog_generation()
    assert discovery.exact_counts(QueryDict("q=미세먼지")) == 3  # what catalog_counts_task does
    assert generation.catalog_generation() > before
    result = discovery.catalog_search(QueryDict("q=미세먼지"))
    assert (result.total, len(result.entries)) == (4, 4)
