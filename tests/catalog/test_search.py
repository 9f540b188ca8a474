"""Korean search over published datasets: bigram phrases inside compounds, ranking, visibility."""

import re
from html import unescape as html_unescape

import pytest
from django.http import QueryDict
from django.urls import reverse

from catalog import search, selectors, services
from catalog.models import DatasetVersion, Offer
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def publish(official, reference_data):
    admin = make_user("search-admin@test.example", staff=True)

    def _publish(title, description="설명", tags=(), title_en=""):
        from catalog.models import DataFile, Licence, Theme

        version = services.dataset_create(
            actor=official,
            organization=official.active_organization,
            title_ko=title,
            title_en=title_en,
            description_ko=description,
            theme=Theme.objects.get(code="environment"),
            tags=list(tags),
            contact_name="담당",
            contact_phone="031-310-2114",
            contact_email="a@siheung.test",
            update_cadence="monthly",
            data_kind="public",
            licence=Licence.objects.get(code="kogl-1"),
        )
        DataFile.objects.create(
            version=version,
            file="x.csv",
            original_name="x.csv",
            format="csv",
            size=1,
            sha256="a" * 64,
            check_state="passed",
            table_schema={"fields": [{"name": "측정값", "type": "integer"}]},
        )
        Offer.objects.create(dataset=version.dataset, kind="free")
        services._refresh_version_state(version)
        services.version_submit(actor=official, version=version)
        return services.version_approve(actor=admin, version=version)

    return _publish


def titles(q):
    params = QueryDict(mutable=True)
    params["q"] = q
    return [e.title_ko for e in selectors.catalog_search(params).entries]


def test_lexemes_are_bigrams_trigrams_and_the_run():
    assert search.hangul_lexemes("초미세먼지") == [
        "초미세먼지",
        "초미",
        "미세",
        "세먼",
        "먼지",
        "초미세",
        "미세먼",
        "세먼지",
    ]
    assert search.hangul_lexemes("주차 숲 사용량") == ["주차", "숲", "사용", "용량", "사용량"]
    # A query word is the lexemes covering it: itself up to three syllables, else its trigrams.
    assert search.query_lexemes("미세먼지") == ["미세먼", "세먼지"]
    assert search.query_lexemes("사용량") == ["사용량"]


def test_a_word_is_found_inside_compounds(publish):
    publish("초미세먼지측정망 자료")
    publish("대기질측정소 목록")
    publish("공영주차장 현황")
    publish("복지시설 현황")
    assert titles("미세먼지") == ["초미세먼지측정망 자료"]
    assert titles("대기질") == ["대기질측정소 목록"]
    assert titles("주차") == ["공영주차장 현황"]
    assert titles("미세먼지 주차") == []  # words are ANDed
    assert titles("먼미") == []  # bigrams must be in order, not anywhere


def test_a_phrase_inside_the_word_not_its_pieces_anywhere(publish):
    """사용량 must not match 사용료 + 저장용량 (both bigrams present, not as a phrase)."""
    publish("클라우드 사용료와 저장용량")
    publish("전력 사용량")
    assert titles("사용량") == ["전력 사용량"]


def test_title_matches_outrank_description_matches(publish):
    publish("건물 현황", description="각 건물의 에너지 사용량을 정리했습니다")
    publish("에너지 사용량 통계", description="월별 자료")
    assert titles("에너지 사용량") == ["에너지 사용량 통계", "건물 현황"]


def test_english_words_are_stemmed_and_one_syllable_is_a_prefix(publish):
    publish("대구시 공영주차장", title_en="Daegu public car parks")
    publish("숲길 조성 현황")
    assert titles("parking") == ["대구시 공영주차장"]
    assert titles("숲") == ["숲길 조성 현황"]


def test_only_published_listed_versions_are_searchable(publish, official):
    version = publish("초미세먼지 측정")
    admin = make_user("another-admin@test.example", staff=True)
    services.dataset_suspend(actor=admin, dataset=version.dataset, reason="점검")
    assert titles("미세먼지") == []
    draft = services.dataset_create(
        actor=official,
        organization=official.active_organization,
        title_ko="미세먼지 초안",
        description_ko="x",
        theme=version.theme,
        contact_name="a",
        contact_phone="1",
        contact_email="a@b.kr",
        update_cadence="none",
        data_kind="public",
    )
    assert draft.state == DatasetVersion.State.DRAFT and titles("미세먼지") == []


def test_catalog_page_searches(client, publish):
    publish("초미세먼지측정망 자료")
    publish("공영주차장 현황")
    page = client.get(reverse("catalog:index"), {"q": "미세먼지"}).content.decode()
    assert "초미세먼지측정망 자료" in page and "공영주차장 현황" not in page
    empty = client.get(reverse("catalog:index"), {"q": "없는단어"}).content.decode()
    assert "없는단어" in empty and "초미세먼지측정망 자료" not in empty


# --- English words (issue 13: "air quality") -------------------------------------------------------------------


def test_two_english_words_find_what_has_both_also_written_in_camel_case(publish):
    publish("정왕동 측정 자료", title_en="Jeongwang-dong air quality")
    publish("측정소 위치", description="NGSI-LD 유형 AirQualityObserved 로 제공합니다.")
    publish("하천 자료", title_en="Stream water quality")
    publish("실내 자료", title_en="Indoor air")
    assert sorted(titles("air quality")) == ["정왕동 측정 자료", "측정소 위치"]
    assert sorted(titles("Air Quality")) == ["정왕동 측정 자료", "측정소 위치"]
    assert sorted(titles("AirQualityObserved")) == ["측정소 위치"]
    assert "측정소 위치" in titles("air")


def test_an_empty_english_search_never_suggests_a_glued_word_that_finds_nothing(publish, client):
    publish("하천 자료", title_en="Stream water quality")
    publish("실내 자료", title_en="Indoor air")
    html = client.get("/catalog/", {"q": "air quality"}).content.decode()
    assert 'id="no-results"' in html
    suggestions = re.search(r'id="suggestions">(.*?)</ul>', html, re.S)
    assert suggestions and "airquality" not in suggestions.group(1)
    # Each word alone finds something: both are offered.
    assert "?q=air" in suggestions.group(1) and "?q=quality" in suggestions.group(1)


def test_a_korean_split_or_joined_suggestion_is_offered_when_it_finds_something(publish, client):
    publish("노인 복지 시설 현황")
    html = client.get("/catalog/", {"q": "복지시설"}).content.decode()
    suggestions = re.search(r'id="suggestions">(.*?)</ul>', html, re.S)
    assert suggestions and "복지 시설" in html_unescape(suggestions.group(1))
