"""The pages of a search end where its matches do, whatever its estimate said, and keep one order as a visitor pages
on (a reviewer's comparison of 1,394 pages with the plain ORM answer on a million datasets): "about 4,450" promised 223
pages of which the last three were empty, "about 3,580" left the matches of 18 pages after its 179th on no page; a
relevance search estimated above the cap switched from the most downloaded to titles first once the worker's exact
count (a little under the cap) landed; a page read past the end was ranked without the exact statement's title rule."""

import pytest
from django.http import QueryDict
from django.test.utils import override_settings

from catalog import discovery
from catalog.discovery import catalog_search, exact_counts
from catalog.models import CatalogEntry
from tests.catalog.test_discovery import publish

pytestmark = pytest.mark.django_db


def estimated_as(monkeypatch, factor: float):
    """The samples (here: the whole table, CATALOG_SAMPLE_LEVELS=[1]) scaled by `factor`: a sample's chance."""
    original = discovery._sample_rows

    def scaled(search, modulus):
        return [(key, max(1, round(n * factor))) for key, n in original(search, modulus)]

    monkeypatch.setattr(discovery, "_sample_rows", scaled)


def every_page(params: str, pages: int) -> list[str]:
    return [e.title_ko for n in range(1, pages + 1) for e in catalog_search(QueryDict(params), page=n).entries]


def plain_order() -> list[str]:
    return list(
        CatalogEntry.objects.order_by("-download_count", "-published_at", "pk").values_list("title_ko", flat=True)
    )


def matches(publisher, n: int = 45):
    """`n` datasets matching 미세먼지, a download apart. (Inside the test: an entry's sample keys are written with the
    settings of the moment it is indexed.)"""
    for i in range(n):
        publish(publisher, f"미세먼지 자료 {i}", downloads=i)


@override_settings(CATALOG_EXACT_CAP=3, CATALOG_SAMPLE_LEVELS=[1])
def test_an_overestimated_search_has_no_empty_page(publisher, monkeypatch):
    matches(publisher)
    estimated_as(monkeypatch, 1.5)  # about 68 of 45: four pages of 20 promised, three hold matches
    first = catalog_search(QueryDict("q=미세먼지&sort=downloads"))
    assert not first.exact and first.total == 68 and first.pages == 4
    for asked in (3, 4, 99):
        page = catalog_search(QueryDict("q=미세먼지&sort=downloads"), page=asked)
        assert (page.page, page.pages, page.total, len(page.entries)) == (3, 3, 45, 5), asked
        assert [e.title_ko for e in page.entries] == plain_order()[40:]
        assert not page.has_next
    assert every_page("q=미세먼지&sort=downloads", 3) == plain_order()


@override_settings(CATALOG_EXACT_CAP=3, CATALOG_SAMPLE_LEVELS=[1])
def test_an_overestimated_search_ending_on_a_full_page_has_no_link_past_it(publisher, monkeypatch):
    """40 matches, about 60 estimated: the end found from a page past it is a full page, the last (before, its link
    led on to the empty page, which led back: a loop; the API's `next` answered 404). A reviewer's finding."""
    matches(publisher, 40)
    estimated_as(monkeypatch, 1.5)
    for asked in (3, 99):
        page = catalog_search(QueryDict("q=미세먼지&sort=downloads"), page=asked)
        assert (page.page, page.pages, page.total, len(page.entries), page.has_next) == (2, 2, 40, 20, False), asked


@override_settings(CATALOG_EXACT_CAP=3, CATALOG_SAMPLE_LEVELS=[1])
def test_an_underestimated_search_leads_on_to_its_last_matches(publisher, monkeypatch):
    matches(publisher)
    estimated_as(monkeypatch, 0.5)  # about 22 of 45: two pages promised, three hold matches
    first = catalog_search(QueryDict("q=미세먼지&sort=downloads"))
    assert not first.exact and first.pages == 2 and first.has_next
    second = catalog_search(QueryDict("q=미세먼지&sort=downloads"), page=2)
    assert second.page == 2 and second.has_next and second.pages == 3  # a full page at the estimate's end leads on
    third = catalog_search(QueryDict("q=미세먼지&sort=downloads"), page=3)
    assert (third.page, third.pages, third.total, len(third.entries)) == (3, 3, 45, 5)
    assert every_page("q=미세먼지&sort=downloads", 3) == plain_order()


@override_settings(CATALOG_EXACT_CAP=3, CATALOG_SAMPLE_LEVELS=[1])
def test_a_search_estimated_right_keeps_its_pages(publisher):
    matches(publisher)
    result = catalog_search(QueryDict("q=미세먼지&sort=downloads"), page=2)
    assert not result.exact and (result.page, result.pages, result.total) == (2, 3, 45)


@override_settings(CATALOG_EXACT_CAP=5, CATALOG_SAMPLE_LEVELS=[1])
def test_relevance_keeps_the_order_it_was_served_in_when_the_exact_count_lands_under_the_cap(publisher, monkeypatch):
    # The most downloaded hold the words apart; the least downloaded hold them in their titles.
    for i in range(5):
        publish(publisher, f"대기 자료 {i}", description="미세먼지 측정", downloads=100 + i)
    publish(publisher, "미세먼지 측정 자료", downloads=0)
    estimated_as(monkeypatch, 2)  # about 12: above the cap of 5
    before = catalog_search(QueryDict("q=미세먼지"))
    assert not before.exact and before.relevance == "popular"
    exact_counts(QueryDict("q=미세먼지"))  # the worker: 6 matches, exactly — a little over the cap here
    monkeypatch.setattr(discovery, "_sample_rows", lambda *a: pytest.fail("the exact counts are there"))
    with override_settings(CATALOG_EXACT_CAP=6):  # and at the cap: served as ranked before the fix
        after = catalog_search(QueryDict("q=미세먼지"))
    assert after.exact and after.total == 6 and after.relevance == "popular"
    assert [e.title_ko for e in after.entries] == [e.title_ko for e in before.entries]


@override_settings(CATALOG_RANK_CAP=1000)
def test_a_ranked_page_read_past_the_last_is_the_page_the_exact_statement_gave(publisher):
    # Equal ranks (the word in a title, Korean or English); only the English title "holds every word" of a Latin query.
    publish(publisher, "CCTV 설치 현황", title_en="Installations", downloads=50)
    publish(publisher, "설치 현황", title_en="CCTV installations", downloads=0)
    first = catalog_search(QueryDict("q=CCTV"))
    assert first.exact and first.relevance == "rank"
    clamped = catalog_search(QueryDict("q=CCTV"), page=99)
    assert clamped.page == 1
    assert [e.title_ko for e in clamped.entries] == [e.title_ko for e in first.entries]
