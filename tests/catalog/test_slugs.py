"""Slugs are readable and unique: a Korean-only title is romanised, never a bare `dataset` / `org`."""

import pytest

from accounts import services as account_services
from catalog import services
from catalog.models import Dataset, Theme
from core.romanize import readable_slug, romanize

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "hangul, latin",
    [
        ("시흥시 미세먼지", "siheungsi misemeonji"),
        ("한국어", "hangugeo"),  # a final consonant before ㅇ is the next syllable's initial
        ("별래", "byeollae"),  # ㄹ+ㄹ is "ll"
        ("측정 결과", "cheukjeong gyeolgwa"),
        ("닭", "dak"),
        ("2024년 already", "2024nyeon already"),  # other characters pass through untouched
    ],
)
def test_romanize_follows_revised_romanization(hangul, latin):
    assert romanize(hangul) == latin


def test_a_long_title_is_cut_at_a_word(db):
    slug = readable_slug("", "시흥시 버스 정류장 위치 정보", max_length=20)
    assert slug == "siheungsi-beoseu"


def _create(official, title_ko, title_en=""):
    return services.dataset_create(
        actor=official,
        organization=official.active_organization,
        title_ko=title_ko,
        title_en=title_en,
        theme=Theme.objects.get(code="environment"),
        data_kind="public",
    ).dataset


def test_korean_only_title_gets_a_romanised_slug(official, reference_data):
    first = _create(official, "시흥시 대기질 측정 자료")
    second = _create(official, "시흥시 대기질 측정 자료")
    assert (first.slug, second.slug) == ("siheungsi-daegijil-cheukjeong-jaryo", "siheungsi-daegijil-cheukjeong-jaryo-2")


def test_english_title_still_wins(official, reference_data):
    assert _create(official, "시흥시 대기질", "Siheung air quality").slug == "siheung-air-quality"


def test_title_without_letters_is_numbered_not_bare(official, reference_data):
    slugs = [_create(official, "漢字").slug, _create(official, "※").slug]
    assert slugs == ["dataset-1", "dataset-2"]
    assert not Dataset.objects.filter(slug="dataset").exists()


def test_existing_slugs_do_not_change(official, reference_data):
    dataset = _create(official, "시흥시 대기질")
    Dataset.objects.filter(pk=dataset.pk).update(slug="dataset")  # made by the old code
    version = dataset.versions.get()
    services.version_update_metadata(actor=official, version=version, title_ko="다른 제목", title_en="Other")
    dataset.refresh_from_db()
    assert dataset.slug == "dataset"


def test_organization_with_korean_name_only_gets_a_romanised_slug(outsider):
    org = account_services.organization_register(
        actor=outsider,
        brn="1248100998",
        name_ko="정왕동 주민자치회",
        name_en="",
        kind="consumer",
        org_type="citizen_group",
        contact_email="a@b.example",
    )
    assert org.slug == "jeongwangdong-juminjachihoe"
