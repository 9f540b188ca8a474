"""How common each Hangul lexeme is (catalog.lexemes) decides where a search's figures start: a sample that cannot
hold enough of its matches is not read, and a search its rarest lexeme bounds within the cap is counted exactly at
once. Observed at a million datasets: 86 % of the 0.1 % sample's statements (~2.3 ms each) were followed by the 1 %
sample's anyway. Counts gone stale cost time, never a wrong figure."""

import pytest
from django.conf import settings
from django.contrib.postgres.search import SearchQuery
from django.core.cache import cache
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext, override_settings

from catalog import discovery, lexemes, tasks
from catalog.models import CatalogEntry
from catalog.search import hangul_lexemes, parse_query, required_lexemes, sample_key
from tests.catalog.test_discovery import publish

pytestmark = pytest.mark.django_db


def sample_statements(context) -> list[str]:
    """The sample keys read by the statements of a search ('~2', '~1', …), in order (not the key frequencies'
    statement, which reads the coarsest sample of the whole catalog, its values kept per facet up to 10,000)."""
    found = []
    for query in context.captured_queries:
        sql = query["sql"]
        if "WITH m AS MATERIALIZED" in sql and "ARRAY['~" in sql and f"r <= {discovery.FACET_SQL_LIMIT}" in sql:
            found.append(sql.split("ARRAY['~", 1)[1].split("'", 1)[0])
    return found


def search(params: str):
    discovery.catalog_changed()  # nothing counted, nothing kept
    with CaptureQueriesContext(connection) as context:
        result = discovery.catalog_search(QueryDict(params))
    return result, context


@pytest.fixture
def asked(monkeypatch):
    """The counts asked of a worker (recorded; no worker runs here)."""
    calls = []
    cache.delete(lexemes.ASKED_KEY)
    monkeypatch.setattr(tasks.lexeme_frequencies_task, "delay", lambda: calls.append(1))
    return calls


def test_required_lexemes_are_the_hangul_clauses_of_the_query_but_prefixes_and_english():
    assert required_lexemes("초미세먼지 측정") == ["초미세", "미세먼", "세먼지", "측정"]
    assert required_lexemes("대기 대기 Air quality 시") == ["대기"]  # once; no prefix ("시"), no English
    assert required_lexemes("") == [] and required_lexemes("CCTV") == []
    # Every one of them is a clause of the query the index answers (parse_query).
    query = parse_query("초미세먼지 측정 시")
    raw = next(e.value for e in query.get_source_expressions() if isinstance(getattr(e, "value", None), str))
    assert all(f"'{lexeme}'" in raw for lexeme in required_lexemes("초미세먼지 측정 시"))


def test_the_bound_is_the_rarest_lexeme_with_a_margin_and_a_missing_one_is_below_the_floor():
    counted = lexemes.LexemeFrequencies(
        modulus=100, floor=18, counts={"미세": 400, "먼지": 25}, entries=1, counted_at=0
    )
    assert counted.matches_at_most([]) is None
    assert counted.matches_at_most(["미세"]) == pytest.approx(lexemes.upper_bound(400) * 100)
    assert counted.matches_at_most(["미세", "먼지"]) == pytest.approx(lexemes.upper_bound(25) * 100)
    # Not kept: seen at most 17 times in the sample.
    assert counted.matches_at_most(["미세", "없는말"]) == pytest.approx(lexemes.upper_bound(17) * 100)
    assert lexemes.upper_bound(0) == 3  # (the exact test of discovery._counts: ~97.5 % of a Poisson count)


@override_settings(CATALOG_EXACT_CAP=3_000)
def test_the_floor_is_the_fewest_sightings_that_could_stand_for_more_than_the_cap():
    floor = lexemes._floor(100)
    assert lexemes.upper_bound(floor - 1) * 100 <= 3_000 < lexemes.upper_bound(floor) * 100
    assert floor == 19  # 18 sightings in the 1 % sample: at most ~2,949 matches
    assert lexemes._floor(1000) == 1  # none seen in the 0.1 % sample: at most 3,000; one: may be 6,000


@override_settings(CATALOG_SAMPLE_LEVELS=[4, 2, 1], CATALOG_EXACT_CAP=20)
def test_counting_reads_the_finest_sample_within_the_target_and_keeps_the_lexemes_above_the_floor(
    publisher, monkeypatch
):
    for i in range(24):
        publish(publisher, f"대기질 측정 {i}" if i % 2 else f"수질 측정망 {i}", tags=["미세먼지"] if i % 3 == 0 else [])
    coarsest = CatalogEntry.objects.filter(facet_keys__contains=["~4"]).count()
    monkeypatch.setattr(lexemes, "SAMPLE_TARGET", coarsest * 2)  # the 1-in-2 sample fits (estimated), all do not
    counted = lexemes.lexeme_frequencies_count()
    assert coarsest * 4 / 1 > coarsest * 2 >= coarsest * 4 / 2  # (the catalog holds entries: 1-in-1 is too many)
    assert counted.modulus == 2
    assert counted.floor == lexemes._floor(counted.modulus)
    sampled = CatalogEntry.objects.filter(facet_keys__contains=[sample_key(counted.modulus)])
    assert counted.entries == sampled.count()
    # Each kept lexeme: the sample's entries whose vector holds it; each Hangul lexeme of the sample not kept: fewer.
    every = {lexeme for entry in sampled for lexeme in hangul_lexemes(entry.title_ko)}
    assert every, "the sample holds entries"
    for lexeme in every:
        holding = sampled.filter(search_vector=SearchQuery(lexeme, search_type="raw", config="simple")).count()
        if lexeme in counted.counts:
            assert counted.counts[lexeme] == holding
        else:
            assert holding < counted.floor
    assert all(word.isalpha() and not word.isascii() for word in counted.counts)  # Hangul only
    # In the cache for every process, and read from there.
    lexemes.forget()
    assert lexemes.lexeme_frequencies().counts == counted.counts


@override_settings(CATALOG_SAMPLE_LEVELS=[2, 1], CATALOG_EXACT_CAP=20)
def test_a_search_its_rarest_lexeme_bounds_within_the_cap_reads_no_sample_and_is_exact(publisher, asked):
    for i in range(30):
        publish(publisher, f"대기 측정 자료 {i}")
    for i in range(3):
        publish(publisher, f"소음 측정 자료 {i}", downloads=i)
    lexemes.lexeme_frequencies_count()
    assert not asked
    result, context = search("q=소음")
    assert sample_statements(context) == []  # before: '~2' then '~1'
    assert result.exact and result.total == 3
    assert [e.download_count for e in result.entries] == [2, 1, 0]
    # The same figures as the samples' way (without the counts).
    cache.delete(lexemes.LEXEMES_KEY)
    lexemes.forget()
    before, context = search("q=소음")
    assert sample_statements(context)[:1] == ["2"]  # at least one sample read
    assert before.total == result.total and before.facets == result.facets
    assert [e.pk for e in before.entries] == [e.pk for e in result.entries]


@override_settings(CATALOG_SAMPLE_LEVELS=[2, 1], CATALOG_EXACT_CAP=20)
def test_a_sample_too_coarse_to_hold_enough_of_the_matches_is_not_read(publisher, asked):
    for i in range(30):
        publish(publisher, f"대기 측정 자료 {i}")
    lexemes.lexeme_frequencies_count()
    result, context = search("q=대기")  # 30 in 33: at most ~50 by the counts; the 1-in-2 sample cannot hold 50
    assert sample_statements(context) == ["1"]  # before: '~2' then '~1'
    assert not result.exact and result.total == 30  # the 1-in-1 "sample": above the cap, an estimate
    cache.delete(lexemes.LEXEMES_KEY)
    lexemes.forget()
    before, context = search("q=대기")
    assert sample_statements(context) == ["2", "1"]
    assert before.total == result.total and before.facets == result.facets


@override_settings(CATALOG_SAMPLE_LEVELS=[2, 1], CATALOG_EXACT_CAP=20)
def test_counts_gone_stale_cost_a_limited_read_and_ask_for_a_new_count_never_a_wrong_figure(publisher, asked):
    lexemes.lexeme_frequencies_count()  # an empty catalog: every lexeme rare
    for i in range(45):  # more than twice the cap since the count
        publish(publisher, f"하천 수위 {i}", downloads=i % 5)
    result, context = search("q=하천")
    statements = [q["sql"] for q in context.captured_queries]
    limited = [sql for sql in statements if f"LIMIT {2 * settings.CATALOG_EXACT_CAP + 1}" in sql]
    assert len(limited) == 1  # the bounded exact read, which found more than the limit
    assert sample_statements(context) == ["2", "1"]  # then the samples, as without counts
    assert not result.exact and result.total == 45
    assert asked == [1]  # a new count, once
    search("q=하천 수위")
    assert asked == [1]


@override_settings(CATALOG_SAMPLE_LEVELS=[2, 1], CATALOG_EXACT_CAP=20)
def test_without_counts_a_search_reads_its_samples_and_asks_a_worker_to_count_once(publisher, asked):
    publish(publisher, "소음 측정 자료")
    result, context = search("q=소음")
    assert sample_statements(context) == ["2", "1"] or sample_statements(context) == ["2"]
    assert result.exact and result.total == 1
    lexemes.forget()
    search("q=측정")
    assert asked == [1]


@override_settings(CATALOG_SAMPLE_LEVELS=[2, 1], CATALOG_EXACT_CAP=20)
def test_a_filter_of_a_rare_value_bounds_the_search_too_unless_its_facet_was_cut(publisher, asked, monkeypatch):
    for i in range(3):
        publish(publisher, f"측정 자료 {i}", tags=["희귀태그"])
    frequencies = {"#": 1000, "g:흔한태그": 900, discovery.TITLE_SET: 0, discovery.TRUNCATED: set()}
    monkeypatch.setattr(discovery, "_key_frequencies", lambda: frequencies)
    result, context = search("tag=희귀태그")  # not among the kept values: none in the coarsest sample
    assert sample_statements(context) == []
    assert result.exact and result.total == 3
    frequencies[discovery.TRUNCATED] = {"g"}  # more tags than were kept: a missing one may be common
    result, context = search("tag=희귀태그")
    assert sample_statements(context)[:1] == ["2"]
    assert result.exact and result.total == 3


@override_settings(CATALOG_SAMPLE_LEVELS=[2, 1], CATALOG_EXACT_CAP=20)
def test_the_key_frequencies_name_the_facets_whose_values_were_cut(publisher, monkeypatch):
    monkeypatch.setattr(discovery, "KEYFREQ_LIMIT", 2)
    for i in range(6):
        publish(publisher, f"측정 {i}", tags=[f"태그{i}"], theme="environment")
    discovery.catalog_changed()
    discovery.forget_reference_labels()
    truncated = discovery._key_frequencies()[discovery.TRUNCATED]
    assert "g" in truncated and "t" not in truncated


def test_the_count_is_a_daily_task_of_the_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["catalog-lexeme-frequencies"]
    assert entry["task"] == tasks.lexeme_frequencies_task.name and entry["schedule"] == 24 * 3600.0


@override_settings(CATALOG_SAMPLE_LEVELS=[1], CATALOG_EXACT_CAP=2)
def test_the_command_counts_now(publisher):
    from io import StringIO

    from django.core.management import call_command

    for i in range(4):
        publish(publisher, f"공기질 {i}")
    out = StringIO()
    call_command("catalog_lexeme_counts", stdout=out)
    assert "1-in-1 sample of 4 entries" in out.getvalue()
    assert lexemes.lexeme_frequencies().counts["공기"] == 4


@override_settings(CATALOG_SAMPLE_LEVELS=[2, 1], CATALOG_EXACT_CAP=20, CATALOG_RANK_CAP=5)
def test_a_wrong_bound_above_the_cap_serves_the_relevance_page_it_labels_and_asks_for_a_new_count(publisher, asked):
    """The bound said few (stale counts), the exact read found 30 (above the cap of 20, within twice it): the figures
    are exact, and the page is the most downloaded, as a search above the cap is served and labelled — not the
    statement's own order above the rank cap (titles holding every word first). Found by review."""
    lexemes.lexeme_frequencies_count()  # an empty catalog: every lexeme rare
    for i in range(26):
        publish(publisher, f"자료 {i}", description="하천 관측", downloads=100 + i)
    for i in range(4):
        publish(publisher, f"하천 수위 {i}", downloads=i)
    result, context = search("q=하천")
    assert sample_statements(context) == []
    assert result.exact and result.total == 30 and result.relevance == discovery.POPULAR
    assert [e.download_count for e in result.entries] == sorted(
        (e.download_count for e in result.entries), reverse=True
    )
    assert result.entries[0].download_count == 125
    assert asked == [1]  # the counts that made the bound are stale


@override_settings(CATALOG_SAMPLE_LEVELS=[2, 1], CATALOG_EXACT_CAP=20)
def test_a_new_count_is_asked_only_for_stale_lexeme_counts_and_once_a_newer_one_is_there_none(publisher, asked):
    used = lexemes.lexeme_frequencies_count()
    cap = settings.CATALOG_EXACT_CAP
    lexemes.found_more((None, None))  # no lexeme: a filter made the bound; counting words again cannot help
    lexemes.found_more((cap + 1.0, used))  # the lexemes' bound was above the cap: another part made it
    assert asked == []
    newer = lexemes.lexeme_frequencies_count()  # (another process counted meanwhile)
    assert newer.counted_at > used.counted_at
    lexemes.found_more((3.0, used))
    assert asked == []
    lexemes.found_more((3.0, newer))  # the newest counts are stale: count again
    assert asked == [1]


def test_counts_of_another_shape_read_as_none_and_are_counted_again(asked):
    cache.set(lexemes.LEXEMES_KEY, {"modulus": 100, "words": {}}, 60)
    lexemes.forget()
    assert lexemes.lexeme_frequencies() is None
    assert asked == [1]
