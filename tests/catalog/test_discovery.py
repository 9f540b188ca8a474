"""Discovery: Korean search, facets, sorting, URL state, visibility, the capped design and query counts."""

import re
import uuid
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db.models import Count
from django.http import QueryDict
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import Organization
from catalog import services
from catalog.discovery import catalog_search, exact_counts
from catalog.models import CatalogEntry, DataFile, Dataset, DatasetVersion, Licence, Offer, Theme
from catalog.templatetags.catalog_tags import toggle_url, without_url
from tests.conftest import make_org, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def publisher(official, reference_data):
    global _day
    _day = iter(range(1, 10_000))  # each test's datasets published in the past, a day apart, in the order made
    return official.active_organization


@pytest.fixture
def other_publisher(reference_data):
    owner = make_user("owner@daegu.test")
    return make_org(owner, name_ko="대구광역시 환경과", name_en="Daegu Environment", kind="provider", brn="5048300010")


_day = iter(range(1, 10_000))


def publish(
    org,
    title,
    *,
    description="설명입니다.",
    theme="environment",
    tags=(),
    columns=(),
    formats=("csv",),
    kinds=("free",),
    cadence="monthly",
    area="경기도 시흥시 정왕동",
    downloads=0,
    licence="kogl-1",
    title_en="",
):
    """A published, listed dataset with files and offers, written directly (the review flow has its own tests),
    then indexed by the real catalog_entry_refresh."""
    user = org.memberships.first().user
    dataset = Dataset.objects.create(
        slug=f"d-{uuid.uuid4().hex[:10]}", publisher=org, created_by=user, download_count=downloads
    )
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=1,
        state="published",
        title_ko=title,
        title_en=title_en,
        description_ko=description,
        theme=Theme.objects.get(code=theme),
        tags=list(tags),
        contact_name="담당자",
        contact_phone="031-000-0000",
        contact_email="a@b.test",
        update_cadence=cadence,
        spatial_area=area,
        data_kind="public",
        licence=Licence.objects.get(code=licence),
        created_by=user,
        published_at=timezone.now() - timedelta(days=1000 - next(_day)),
    )
    for fmt in formats:
        DataFile.objects.create(
            version=version,
            file=f"datasets/x/{uuid.uuid4().hex}.{fmt}",
            original_name=f"data.{fmt}",
            format=fmt,
            size=10,
            sha256="0" * 64,
            check_state="passed",
            table_schema={"fields": [{"name": c, "type": "string"} for c in columns]},
        )
    for kind in kinds:
        Offer.objects.create(
            dataset=dataset,
            kind=kind,
            price_krw=0 if kind == "free" else 10000,
            subscription_days=30 if kind == "subscription" else None,
            rule="공공데이터법",
        )
    services.catalog_entry_refresh(dataset)
    return dataset


def titles(params: str, **kwargs) -> list[str]:
    return [e.title_ko for e in catalog_search(QueryDict(params), **kwargs).entries]


# --- Korean and English matching ------------------------------------------------------------------------------


def test_hangul_fragments_find_compounds_and_unrelated_words_do_not_match(publisher):
    publish(publisher, "초미세먼지측정망 시간별 자료")
    publish(publisher, "대기질측정소 위치")
    publish(publisher, "공원 사용료 및 저장용량 현황")  # 사용 + 용량 but not 사용량
    publish(publisher, "하천 수위 관측")
    assert titles("q=미세먼지") == ["초미세먼지측정망 시간별 자료"]
    assert titles("q=대기질") == ["대기질측정소 위치"]
    assert titles("q=사용량") == []
    assert titles("q=수위") == ["하천 수위 관측"]
    assert titles("q=먼지 수위") == []  # every word must match


def test_two_words_rank_a_title_with_both_above_a_description_with_one(publisher):
    publish(publisher, "공공시설 현황", description="에너지 절약 안내와 사용량 통계가 있습니다.")
    publish(publisher, "시흥시 에너지 사용량 통계")
    publish(publisher, "에너지 사용량", description="", columns=())
    publish(publisher, "주차장 정보", description="전력 사용량", columns=())
    found = titles("q=에너지 사용량")
    assert set(found[:2]) == {"시흥시 에너지 사용량 통계", "에너지 사용량"}
    assert found[2] == "공공시설 현황"
    assert "주차장 정보" not in found


def test_weights_title_over_tags_over_description_over_columns(publisher):
    publish(publisher, "자료 D", columns=["하천수위"])
    publish(publisher, "자료 C", description="하천수위 관측 결과")
    publish(publisher, "자료 B", tags=["하천수위"])
    publish(publisher, "하천수위 자료 A")
    assert titles("q=하천수위") == ["하천수위 자료 A", "자료 B", "자료 C", "자료 D"]


def test_english_words_are_stemmed_and_publishers_are_searchable(publisher, other_publisher):
    publish(publisher, "공영주차장 현황", title_en="Public parking lots")
    publish(other_publisher, "대기 측정")
    assert titles("q=parking") == ["공영주차장 현황"]
    assert titles("q=parked") == ["공영주차장 현황"]
    assert titles("q=대구광역시") == ["대기 측정"]


# --- visibility ------------------------------------------------------------------------------------------------


def test_drafts_rejected_withdrawn_and_suspended_datasets_never_appear(publisher, draft, admin_user, official, client):
    visible = publish(publisher, "미세먼지 공개 자료")
    suspended = publish(publisher, "미세먼지 정지 자료")
    withdrawn = publish(publisher, "미세먼지 철회 자료")
    rejected = publish(publisher, "미세먼지 반려 자료")
    DatasetVersion.objects.filter(dataset=rejected).update(state="rejected")
    services.catalog_entry_refresh(rejected)
    services.dataset_suspend(actor=admin_user, dataset=suspended, reason="확인 필요")
    services.version_withdraw(actor=official, version=withdrawn.versions.get(), reason="오류")
    assert draft.dataset_id not in set(CatalogEntry.objects.values_list("dataset_id", flat=True))
    assert titles("q=미세먼지") == ["미세먼지 공개 자료"]
    assert titles("") == ["미세먼지 공개 자료"]
    for dataset in (suspended, withdrawn, rejected, draft.dataset):
        assert client.get(f"/catalog/datasets/{dataset.slug}/").status_code == 404
    assert client.get(f"/catalog/datasets/{visible.slug}/").status_code == 200
    # Reinstating lists it again.
    services.dataset_reinstate(actor=admin_user, dataset=suspended, reason="해결")
    assert sorted(titles("q=미세먼지")) == ["미세먼지 공개 자료", "미세먼지 정지 자료"]


# --- facets ------------------------------------------------------------------------------------------------------


@pytest.fixture
def mixed_catalog(publisher, other_publisher):
    publish(
        publisher, "미세먼지 측정 A", theme="environment", formats=("csv",), kinds=("free",), tags=["대기", "미세먼지"]
    )
    publish(
        publisher,
        "미세먼지 측정 B",
        theme="environment",
        formats=("csv", "geojson"),
        kinds=("one_off",),
        tags=["대기"],
        cadence="daily",
        licence="kogl-3",
    )
    publish(
        other_publisher,
        "미세먼지 예보",
        theme="environment",
        formats=("json",),
        kinds=("free", "subscription"),
        area="대구광역시 수성구 범어동",
        tags=["예보"],
    )
    publish(
        other_publisher,
        "전력 사용량",
        theme="industry",
        formats=("xlsx",),
        kinds=("one_off",),
        area="대구광역시 수성구",
    )
    publish(publisher, "복지시설 현황", theme="welfare", formats=("csv",), kinds=("free",))


def direct_counts(qs):
    """The facet counts computed the naive way, one query per facet, for comparison."""
    counts = {
        "theme": {Theme.objects.get(pk=r["theme"]).code: r["n"] for r in qs.values("theme").annotate(n=Count("pk"))},
        "publisher": {
            Organization.objects.get(pk=r["publisher"]).slug: r["n"]
            for r in qs.values("publisher").annotate(n=Count("pk"))
        },
        "licence": {
            Licence.objects.get(pk=r["licence"]).code: r["n"] for r in qs.values("licence").annotate(n=Count("pk"))
        },
        "cadence": {r["update_cadence"]: r["n"] for r in qs.values("update_cadence").annotate(n=Count("pk"))},
        "area": {r["area"]: r["n"] for r in qs.values("area").annotate(n=Count("pk"))},
    }
    for facet, column in (("format", "formats"), ("price", "price_types"), ("tag", "tags")):
        counts[facet] = {}
        for values in qs.values_list(column, flat=True):
            for v in values:
                counts[facet][v] = counts[facet].get(v, 0) + 1
    return counts


@pytest.mark.parametrize(
    "params",
    [
        "",
        "q=미세먼지",
        "q=미세먼지&price=free",
        "format=csv&format=json",
        "theme=industry",
        "area=대구광역시 수성구&q=미세먼지",
    ],
)
def test_facet_counts_equal_direct_counts(mixed_catalog, params):
    result = catalog_search(QueryDict(params))
    from catalog.filters import CatalogFilter

    expected = direct_counts(CatalogFilter(QueryDict(params), queryset=CatalogEntry.objects.all()).qs)
    got = {name: {fv.value: fv.count for fv in values if fv.count} for name, values in result.facets.items()}
    assert got == expected
    assert result.exact
    assert result.total == sum(expected["theme"].values())


def test_filters_combine_or_within_a_facet_and_and_across(mixed_catalog):
    assert sorted(titles("format=csv&format=json")) == [
        "미세먼지 예보",
        "미세먼지 측정 A",
        "미세먼지 측정 B",
        "복지시설 현황",
    ]
    assert sorted(titles("format=csv&price=free")) == ["미세먼지 측정 A", "복지시설 현황"]
    assert titles("price=subscription") == ["미세먼지 예보"]
    assert titles("cadence=daily") == ["미세먼지 측정 B"]
    assert titles("licence=kogl-3") == ["미세먼지 측정 B"]
    assert titles("tag=예보") == ["미세먼지 예보"]
    assert titles("theme=no-such-theme") == []


def test_sorts(publisher):
    publish(publisher, "나 자료", downloads=5)
    publish(publisher, "가 자료", downloads=1)
    publish(publisher, "다 자료", downloads=9)
    assert titles("sort=title") == ["가 자료", "나 자료", "다 자료"]
    assert titles("sort=downloads") == ["다 자료", "나 자료", "가 자료"]
    assert titles("sort=newest") == ["다 자료", "가 자료", "나 자료"]
    assert titles("") == titles("sort=newest")  # no query: newest first


def test_pages(publisher):
    for i in range(23):
        publish(publisher, f"자료 {i:02d}")
    first = catalog_search(QueryDict("sort=title"), page=1)
    second = catalog_search(QueryDict("sort=title"), page="2")
    assert (first.total, first.pages, len(first.entries), len(second.entries)) == (23, 2, 20, 3)
    assert second.entries[0].title_ko == "자료 20"
    assert catalog_search(QueryDict("sort=title"), page="99").page == 2
    assert catalog_search(QueryDict("sort=title"), page="x").page == 1


# --- above the cap ------------------------------------------------------------------------------------------------


@override_settings(CATALOG_EXACT_CAP=3, CATALOG_SAMPLE_LEVELS=[1])  # a tiny table: every entry is in the "sample"
def test_above_the_cap_counts_are_labelled_estimates_until_counted_exactly(
    publisher, django_capture_on_commit_callbacks
):
    for i in range(6):
        publish(publisher, f"미세먼지 자료 {i}", downloads=i)
    params = QueryDict("q=미세먼지")
    first = catalog_search(params)
    assert not first.exact and first.relevance == "popular"
    assert [e.download_count for e in first.entries] == [5, 4, 3, 2, 1, 0]  # popularity instead of rank
    assert first.total == 6  # the (here: complete) sample
    exact_counts(params)  # what the worker's task does
    second = catalog_search(params)
    assert second.exact and second.total == 6
    assert {fv.value: fv.count for fv in second.facets["price"]} == {"free": 6}
    # A publication makes the cached figures stale: estimates again until counted.
    with django_capture_on_commit_callbacks(execute=True):
        publish(publisher, "미세먼지 자료 새것")
    assert not catalog_search(params).exact


@override_settings(CATALOG_EXACT_CAP=3, CATALOG_SAMPLE_LEVELS=[1])
def test_a_large_search_is_counted_exactly_only_when_asked_again(publisher, monkeypatch):
    """A one-off search (a typo, a crawler's walk) costs no exact count: its estimate is kept, and the worker is
    asked to count when the same search is asked again (another page or sort), which then reads the kept estimate
    instead of the samples."""
    from catalog import discovery, tasks

    for i in range(6):
        publish(publisher, f"미세먼지 자료 {i}", downloads=i)
    asked = []
    monkeypatch.setattr(tasks.catalog_counts_task, "delay", lambda params: asked.append(params))
    first = catalog_search(QueryDict("q=미세먼지"))
    assert not first.exact and not first.counting and asked == []
    samples = []
    original = discovery._facet_rows
    monkeypatch.setattr(discovery, "_facet_rows", lambda *a, **k: samples.append(a) or original(*a, **k))
    again = catalog_search(QueryDict("q=미세먼지&sort=newest"), page=2)
    assert not again.exact and again.counting and again.total == first.total
    assert asked == [{"q": ["미세먼지"], "sort": ["newest"]}] and samples == []  # the kept estimate, no sample read
    catalog_search(QueryDict("q=미세먼지&sort=title"))
    assert len(asked) == 1  # asked once at a time
    exact_counts(QueryDict("q=미세먼지"))  # what the worker's task does
    assert catalog_search(QueryDict("q=미세먼지")).exact


@override_settings(CATALOG_EXACT_CAP=3, CATALOG_COUNT_CAP=5, CATALOG_SAMPLE_LEVELS=[1])
def test_above_the_count_cap_the_estimate_stays_and_no_worker_counts(publisher, monkeypatch):
    """Above CATALOG_COUNT_CAP an exact count would read every match for a figure nobody needs to the unit: the
    labelled estimate stays however often the search is asked, and nothing waits for a count."""
    from catalog import discovery, tasks

    for i in range(6):
        publish(publisher, f"미세먼지 자료 {i}")
    asked = []
    monkeypatch.setattr(tasks.catalog_counts_task, "delay", lambda params: asked.append(params))
    for page in (1, 2, 1):
        discovery.ESTIMATES_PENDING.set(False)
        result = catalog_search(QueryDict("q=미세먼지"), page=page)
        assert not result.exact and not result.counting and result.total == 6
        assert not discovery.ESTIMATES_PENDING.get()  # the page cache may keep it
    assert asked == []
    assert "estimates." in _page("q=미세먼지") or "추정" in _page("q=미세먼지")


@override_settings(CATALOG_EXACT_CAP=3, CATALOG_SAMPLE_LEVELS=[1])
def test_a_large_title_ordered_page_is_read_from_the_titles_up_to_its_last(publisher, monkeypatch):
    """In title order the page's last title is read off the sample: the entries up to it (a prefix of the order)
    hold the page, found by ANDing the GIN index with the title index. The pages equal the full order's."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog import discovery

    monkeypatch.setattr(discovery, "PAGE_SIZE", 4)
    monkeypatch.setattr(discovery, "GIN_SCAN_US", 0.0)  # a tiny table: the range must look cheapest to be taken
    monkeypatch.setattr(discovery, "GIN_TID_US", 0.0)
    monkeypatch.setattr(discovery, "WALK_ROW_US", 1e6)
    for i in range(30):
        publish(publisher, f"{'가나다라마바사아자차'[i % 10]} 대기질 {i:02d}")
    expected = list(CatalogEntry.objects.order_by("title_ko", "pk").values_list("pk", flat=True))
    ranged = 0
    for page in range(1, 8):
        with CaptureQueriesContext(connection) as queries:
            result = catalog_search(QueryDict("q=대기질&sort=title"), page=page)
        assert not result.exact
        assert [e.pk for e in result.entries] == expected[(page - 1) * 4 : page * 4], page
        ranged += any('"title_ko" <=' in q["sql"] and "LIMIT 4" in q["sql"] for q in queries)
    assert ranged >= 5


@override_settings(CATALOG_EXACT_CAP=3)
def test_the_count_task_runs_on_a_real_worker(publisher, celery_worker):
    for i in range(5):
        publish(publisher, f"대기질 자료 {i}")
    from catalog.tasks import catalog_counts_task

    assert catalog_counts_task.delay({"q": ["대기질"]}).get(timeout=30) == 5
    assert catalog_search(QueryDict("q=대기질")).exact


# --- the page: URL state, htmx, suggestions, query counts -----------------------------------------------------


def test_url_state_round_trips(mixed_catalog, client):
    query = QueryDict("q=미세먼지&theme=environment&page=2")
    added = toggle_url(query, "price", "free")
    assert QueryDict(added[1:]).dict() == {"q": "미세먼지", "theme": "environment", "price": "free"}
    removed = toggle_url(QueryDict(added[1:]), "price", "free")
    assert QueryDict(removed[1:]).dict() == {"q": "미세먼지", "theme": "environment"}
    assert QueryDict(without_url(query, "q")[1:]).dict() == {"theme": "environment"}

    html = client.get("/catalog/" + added).content.decode()
    assert 'aria-current="true"' in html  # the chosen facet value is marked
    assert re.search(r'id="result-count"[^>]*data-total="2"', html)
    # The chip that removes the price filter links to the state without it.
    assert 'href="?q=%EB%AF%B8%EC%84%B8%EB%A8%BC%EC%A7%80&amp;theme=environment"' in html
    assert 'name="sort"' in html and '<option value="relevance" selected>' in html


def test_htmx_requests_get_only_the_results_and_history_restores_get_the_page(mixed_catalog, client):
    partial = client.get("/catalog/?q=미세먼지", HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<div id="catalog-body"') and "<html" not in partial
    full = client.get(
        "/catalog/?q=미세먼지", HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    ).content.decode()
    assert "<html" in full and 'id="catalog-body"' in full


def test_an_empty_result_suggests_removing_filters_and_similar_terms(mixed_catalog, client):
    html = client.get("/catalog/?q=미세먼지&theme=industry").content.decode()
    assert 'id="no-results"' in html
    assert "?q=%EB%AF%B8%EC%84%B8%EB%A8%BC%EC%A7%80" in html  # remove the theme: back to q only
    html = client.get("/catalog/?q=미세먼지농도측정").content.decode()
    suggestions = re.search(r'id="suggestions">(.*?)</ul>', html, re.S)
    assert suggestions and "미세먼지" in suggestions.group(1)
    assert "예보" not in suggestions.group(1)


def test_bad_filter_values_are_reported_not_crashing(mixed_catalog, client):
    response = client.get("/catalog/?theme=<script>&q=" + "가" * 300)
    assert response.status_code == 200
    assert "were not understood" in response.content.decode() or "이해하지 못해" in response.content.decode()


@pytest.mark.parametrize("url", ["/catalog/", "/catalog/?q=미세먼지&price=free&format=csv", "/catalog/?q=zzzz", "/"])
def test_pages_need_at_most_ten_queries(mixed_catalog, client, buyer, django_assert_max_num_queries, url):
    client.get(url)  # warm the per-process label cache like a running server
    with django_assert_max_num_queries(10):
        assert client.get(url).status_code == 200
    client.force_login(buyer)
    with django_assert_max_num_queries(10):
        assert client.get(url).status_code == 200


def test_home_page_shows_themes_with_counts_newest_popular_and_publishers(mixed_catalog, client, publisher):
    Dataset.objects.filter(versions__title_ko="전력 사용량").update(download_count=42)
    services.catalog_reindex()
    html = client.get("/").content.decode()
    assert re.search(r"\?theme=environment\".*?3", html, re.S)
    assert "복지시설 현황" in html  # newest
    assert "전력 사용량" in html.split('id="popular-title"')[1].split("</section>")[0]
    assert publisher.name_ko in html.split('id="orgs-title"')[1]


@override_settings(CATALOG_EXACT_CAP=3, CATALOG_SAMPLE_LEVELS=[1])
def test_a_word_is_matched_by_its_trigram_not_by_its_bigrams_anywhere(publisher):
    """사용량 is one trigram: datasets holding its bigrams 사용 and 용량 in other words are no match, so they
    neither count towards the cap nor appear."""
    for i in range(5):
        publish(publisher, f"공원 사용료 및 저장용량 {i}")  # 사용 + 용량 but not 사용량
    publish(publisher, "전력 사용량")
    result = catalog_search(QueryDict("q=사용량"))
    assert result.exact and result.total == 1 and result.relevance == "rank"
    assert [e.title_ko for e in result.entries] == ["전력 사용량"]


# --- the index: filters as keys, the sample, the walk ------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        "q=미세먼지",
        "q=미세먼지&price=free&format=csv",
        "theme=environment&format=csv&format=json",
        "q=측정&sort=title",
        "tag=대기&sort=newest",
        "area=대구광역시 수성구",
        "q=자료&sort=downloads",
    ],
)
def test_walking_a_sort_index_finds_the_same_page_as_the_gin_index(mixed_catalog, params):
    """Above the cap the page walks a btree with every condition as a plain function; it must select and
    order exactly what the GIN index does."""
    from catalog.discovery import _ordered, _walk
    from catalog.filters import CatalogFilter

    publisher = CatalogEntry.objects.first().publisher
    for i in range(3):
        publish(publisher, f"대기 측정 자료 {i}", downloads=i % 2, tags=["대기"])  # ties: the order's last keys matter
    search = CatalogFilter(QueryDict(params), queryset=CatalogEntry.objects.all())
    assert search.is_valid()
    indexed = search.qs
    sort = search.state()["sort"] or "downloads"
    via_index = list(_ordered(indexed, sort, None, search).values_list("pk", flat=True))
    via_walk = list(_ordered(_walk(search), sort, None, search).values_list("pk", flat=True))
    assert via_index and via_walk == via_index


@override_settings(CATALOG_EXACT_CAP=3, CATALOG_SAMPLE_LEVELS=[1])  # every entry is in the "sample"
def test_a_title_order_walk_is_priced_by_where_the_matches_stand_in_it(publisher, monkeypatch):
    """The matches of words gather along the title order (the words are the titles'), so the rows a walk of the
    title index reads cannot be priced from the matches' share of the catalog: the samples tell how far along the
    titles the page's last match stands. Matches at the end of the order go through the GIN index; at its start
    they are walked; in either way the page is the same."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog import discovery

    monkeypatch.setattr(discovery, "PAGE_SIZE", 4)
    # Walking 14 rows (4 × 42 / 12, evenly spread) is cheaper than the GIN index; walking 36 is not.
    monkeypatch.setattr(discovery, "GIN_SCAN_US", 400.0)
    for i in range(30):
        publish(publisher, f"가로등 {i:02d}")
    for i in range(12):
        publish(publisher, f"하천 대기질 {i:02d}", downloads=i)
    for word, walked in (("대기질", False), ("가로등", True)):
        expected = list(
            CatalogEntry.objects.filter(title_ko__contains=word).order_by("title_ko", "pk").values_list("pk", flat=True)
        )
        for sort, sort_walked in (("title", walked), ("downloads", True)):
            with CaptureQueriesContext(connection) as ctx:
                result = catalog_search(QueryDict(f"q={word}&sort={sort}"))
            assert not result.exact
            page = next(
                q["sql"]
                for q in ctx.captured_queries
                if q["sql"].startswith('SELECT "catalog_catalogentry"."dataset_id"')
            )
            assert ("ts_match_vq" in page) is sort_walked, (word, sort, page)  # the walk's match is a plain function
            if sort == "title":
                assert [e.pk for e in result.entries] == expected[:4]


@override_settings(CATALOG_RANK_CAP=2)
def test_above_the_rank_cap_titles_holding_every_word_come_first(publisher):
    publish(publisher, "하천 자료", description="하천수위 관측", downloads=90)
    publish(publisher, "하천수위 관측망", downloads=1)
    publish(publisher, "수위 자료", tags=["하천수위"], downloads=50)
    publish(publisher, "하천수위 월보", downloads=5)
    result = catalog_search(QueryDict("q=하천수위"))
    assert result.exact and result.relevance == "title"
    assert [e.title_ko for e in result.entries] == ["하천수위 월보", "하천수위 관측망", "하천 자료", "수위 자료"]
    assert "제목에 모든 낱말이 들어간 데이터를 먼저" in _page("q=하천수위")


@override_settings(CATALOG_EXACT_CAP=2, CATALOG_SAMPLE_LEVELS=[6, 3])
def test_large_searches_are_estimated_from_the_coarsest_sample_holding_enough_matches(publisher, monkeypatch):
    from catalog import discovery
    from catalog.search import in_sample, sample_key

    for i in range(40):
        publish(publisher, f"대기질 자료 {i}", formats=("csv",) if i % 2 else ("json",))
    entries = list(CatalogEntry.objects.all())
    coarse = [e for e in entries if in_sample(e.pk, 6)]
    fine = [e for e in entries if in_sample(e.pk, 3)]
    assert set(coarse) <= set(fine) and 2 <= len(coarse) < len(fine) < 30  # nested, and the hash spreads them
    assert {e.pk for e in fine} == set(
        CatalogEntry.objects.filter(facet_keys__contains=[sample_key(3)]).values_list("pk", flat=True)
    )

    def figures(sample):
        csv = sum(1 for e in sample if "csv" in e.formats)
        return {"csv": csv, "json": len(sample) - csv}

    # Enough matches in the coarse sample: it is the estimate.
    monkeypatch.setattr(discovery, "SAMPLE_ENOUGH", 1)
    result = catalog_search(QueryDict("q=대기질"))
    assert not result.exact and result.total == len(coarse) * 6
    assert {fv.value: fv.count for fv in result.facets["format"]} == {k: n * 6 for k, n in figures(coarse).items() if n}
    # Too few there: the finer sample is (in a new catalog generation: the estimate is kept for the same search).
    monkeypatch.setattr(discovery, "SAMPLE_ENOUGH", 100)
    discovery.catalog_changed()
    result = catalog_search(QueryDict("q=대기질"))
    assert not result.exact and result.total == len(fine) * 3
    assert {fv.value: fv.count for fv in result.facets["format"]} == {k: n * 3 for k, n in figures(fine).items() if n}
    # A search whose finest sample predicts at most the cap is counted exactly: one title outside the finest sample
    # (a two-digit number no other title contains; which entries the samples hold depends on their ids, so it is
    # chosen from them rather than fixed).
    outside = next(e for e in entries if e not in fine and int(e.title_ko.rsplit(" ", 1)[1]) >= 20)
    assert catalog_search(QueryDict(f"q={outside.title_ko}")).exact


def test_a_search_with_its_filters_is_one_scan_of_one_index(mixed_catalog):
    """Text, filters (and the sample key) are conditions on the one GIN index over (search_vector, facet_keys):
    the plan reads the heap only for rows matching everything, instead of ANDing bitmaps of several indexes."""
    from django.db import connection

    from catalog.filters import CatalogFilter

    search = CatalogFilter(
        QueryDict("q=미세먼지&price=free&format=csv&area=경기도 시흥시"), queryset=CatalogEntry.objects.all()
    )
    sql, params = search.qs.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a five-row table would otherwise be read whole
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "entry_search_gin" in plan and "BitmapAnd" not in plan and "Filter:" not in plan, plan


def _page(params: str) -> str:
    from django.test import Client

    return Client().get("/catalog/?" + params).content.decode()


@override_settings(CATALOG_EXACT_CAP=1, CATALOG_SAMPLE_LEVELS=[1])
@pytest.mark.parametrize(
    "route, sort",
    [
        ("counted buckets", "downloads"),
        ("counted buckets", "newest"),
        ("counted buckets", "relevance"),
        ("counted buckets", "title"),
        ("sampled deep page", "downloads"),
        ("sampled deep page", "newest"),
        ("sampled deep page", "relevance"),
    ],
)
def test_pages_read_through_the_sort_buckets_are_the_exact_pages(publisher, monkeypatch, sort, route):
    """A page of a large search reads only the matches in the sort buckets that hold it (a prefix of the order):
    from the search's own counts per bucket, or (counts without them) for deep pages from the sample. The pages
    must be exactly those of the full order, including across bucket edges and ties."""
    from catalog import discovery
    from catalog.search import sort_keys

    for i in range(50):
        # Titles in runs of equal ones (ties broken by id) and in another order than the ids.
        publish(publisher, f"대기질 자료 {(i * 7) % 13}", downloads=(i * 7) % 40)
    if sort == "title":
        from catalog.services.title_buckets import title_buckets_build

        title_buckets_build(buckets=6)
    monkeypatch.setattr(discovery, "PAGE_SIZE", 4)
    used = []
    if route == "counted buckets":
        original = discovery._bucket_route

        def always(*args):  # the buckets always look cheapest
            found = original(*args)
            used.append(found and found[0])
            return found and (found[0], found[1], 1e12, 1e12)

        monkeypatch.setattr(discovery, "_bucket_route", always)
    else:
        monkeypatch.setattr(discovery, "_bucket_route", lambda *a: None)
        monkeypatch.setattr(discovery, "DEEP_PAGE_START", 0)
        monkeypatch.setattr(discovery, "_route_costs", lambda *a: discovery.Routes(1e12, 1e12))
        original = discovery._deep_page_keys
        monkeypatch.setattr(discovery, "_deep_page_keys", lambda *a: used.append(original(*a)) or used[-1])
    order = discovery.SORT_ORDER["downloads" if sort == "relevance" else sort]
    if sort == "title":
        assert all(any(k.startswith("s") for k in e.sort_keys) for e in CatalogEntry.objects.all())
    expected = list(CatalogEntry.objects.order_by(*order).values_list("pk", flat=True))
    for entry in CatalogEntry.objects.all():
        assert entry.sort_keys[:2] == sort_keys(entry.download_count, entry.published_at)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    through_buckets = 0
    for page in range(1, 14):
        with CaptureQueriesContext(connection) as queries:
            result = catalog_search(QueryDict(f"q=대기질&sort={sort}"), page=page)
        assert [e.pk for e in result.entries] == expected[(page - 1) * 4 : page * 4], page
        page_queries = [
            q["sql"]
            for q in queries
            if 'AS "pk"' in q["sql"] and "OFFSET" in q["sql"] or 'AS "pk"' in q["sql"] and "LIMIT 4" in q["sql"]
        ]
        if used[-1] and len(page_queries) == 1 and '"sort_keys" &&' in page_queries[0]:
            through_buckets += 1
    assert through_buckets >= 8  # most pages were read through a prefix of the buckets, not the long way
    keys = [found[0] if route != "counted buckets" else found for found in used if found]
    assert any(len(k) > 1 for k in keys)  # … spanning several buckets


def test_a_download_moves_the_entry_into_the_next_popularity_bucket(publisher):
    dataset = publish(publisher, "대기질 자료", downloads=2)
    assert "d:6" in CatalogEntry.objects.get(pk=dataset.pk).sort_keys  # ⌊4 · log2(3)⌋
    services.dataset_count_download(dataset.pk)
    entry = CatalogEntry.objects.get(pk=dataset.pk)
    assert entry.download_count == 3 and "d:8" in entry.sort_keys and "d:6" not in entry.sort_keys


def test_a_search_the_coarsest_sample_shows_to_be_small_is_counted_exactly_at_once(mixed_catalog, monkeypatch):
    """No match in the 0.1 % sample: at most ~3,000 matches (a Poisson bound), so the finer samples are skipped
    and the exact statement runs next: two statements for figures and page. (Without a bound from how common its
    words and filters are, which would skip the sample too: tests/catalog/test_lexeme_counts.py.)"""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog import discovery

    monkeypatch.setattr(discovery, "_matches_at_most", lambda search, state: None)
    discovery._key_frequencies()  # (its own statement reads the coarsest sample of the whole catalog)
    with CaptureQueriesContext(connection) as queries:
        result = catalog_search(QueryDict("q=미세먼지&price=free"))
    assert result.exact and result.total == 2
    statements = [q["sql"] for q in queries if "WITH m AS MATERIALIZED" in q["sql"]]
    assert len(statements) == 2
    assert "ARRAY['~1000']" in statements[0] and "'@'" not in statements[0]  # the coarsest sample…
    assert "ARRAY['~" not in statements[1] and "'@'" in statements[1]  # … then figures and page in one


def test_result_lines_speak_the_readers_language(publisher):
    from django.utils import translation

    publish(publisher, "공영주차장 현황", title_en="Public parking lots", description="주차면 수")
    with translation.override("en"):
        line = catalog_search(QueryDict("q=주차")).entries[0]
        assert (line.title, line.theme_name) == ("Public parking lots", "Environment and weather")
        assert line.description == "주차면 수"  # no English description: the Korean one
    with translation.override("ko"):
        line = catalog_search(QueryDict("q=주차")).entries[0]
        assert (line.title, line.publisher_name) == ("공영주차장 현황", publisher.name_ko)


@pytest.mark.parametrize(
    "params",
    [
        "",
        "q=미세먼지",
        "q=미세먼지 air&price=free&format=csv&format=json",
        "theme=environment&area=대구광역시 수성구",
        "theme=no-such-theme",
    ],
)
@pytest.mark.parametrize(
    "extra", [None, ("facet_keys__contains", ["~10"]), ("sort_keys__overlap", ["d:4", "d:5"]), ("title_ko__lte", "미")]
)
@pytest.mark.parametrize("sort", [None, "downloads", "newest", "title"])
def test_statements_written_from_the_compiled_search_are_the_orm_queries(mixed_catalog, params, extra, sort):
    """_search_sql (the search's conditions compiled once, the rest from the ORM's SQL) writes the very statement the
    ORM query would: search.qs.filter(extra), in the order of _ordered through the GIN index, sliced."""
    from django.core.exceptions import EmptyResultSet

    from catalog import discovery
    from catalog.filters import CatalogFilter

    search = CatalogFilter(QueryDict(params), queryset=CatalogEntry.objects.all())
    assert search.is_valid()
    qs = search.qs if extra is None else search.qs.filter(**{extra[0]: extra[1]})
    fields = ("facet_keys", "sort_keys")
    window = None
    if sort is not None:
        qs, fields, window = discovery._ordered(qs, sort, None, search, through_gin=True), ("pk",), slice(20, 40)
    try:
        query = qs.values(*fields) if sort is None else qs.values_list("pk", flat=True)[window]  # as _page asks
        expected = query.query.sql_with_params()
    except EmptyResultSet:
        expected = EmptyResultSet
    try:
        written = discovery._search_sql(search, fields, extra, sort, window)
    except EmptyResultSet:
        written = EmptyResultSet
    assert written == expected
    if expected is not EmptyResultSet:  # twice from the same search (its conditions kept): the same again
        assert discovery._search_sql(search, fields, extra, sort, window) == expected


def test_key_frequencies_are_read_once_per_generation_in_a_process(mixed_catalog, django_assert_num_queries):
    from catalog import discovery

    first = discovery._key_frequencies()
    with django_assert_num_queries(0):
        assert discovery._key_frequencies() is first  # nor read from Redis: the process's copy
    discovery.catalog_changed()
    with django_assert_num_queries(2):  # a new generation: counted again (the sample and the title bucket set)
        assert discovery._key_frequencies() == first


@pytest.mark.parametrize("q", ["漢字", "ㅋㅋ", "!!! ...", "漢字 ㄱ"])
def test_a_text_without_a_searchable_word_matches_nothing_and_says_why(publisher, client, q):
    """Only Hanja, lone jamo or signs: no word the index can search. The page showed every dataset ("about 989,000"
    at a million) under a search box that said it searched for them; now nothing matches, and the page says why
    (a reviewer's finding). The API answers the same. An empty or blank text is no search: every dataset."""
    publish(publisher, "미세먼지 자료")
    result = catalog_search(QueryDict(urlencode({"q": q})))
    assert (result.total, result.entries) == (0, [])
    assert result.no_words
    page = client.get("/catalog/", {"q": q}).content.decode()
    assert 'id="no-words"' in page and "검색할 수 있는 낱말이 없습니다" in page
    assert client.get("/api/v1/datasets/", {"q": q}).json()["count"] == 0
    blank = catalog_search(QueryDict("q=%20%20"))
    assert (blank.total, blank.no_words) == (1, False)
    assert not catalog_search(QueryDict(urlencode({"q": "미세먼지 漢字"}))).no_words  # a word among them: searched
