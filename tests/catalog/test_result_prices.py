"""Issue 13: a search result shows what the data costs ("from 33,000 won", each subscription period), VAT included
by the publisher's status, from the catalog entry itself (no join per result line)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Organization
from catalog import services
from catalog.models import CatalogEntry, Offer
from tests.catalog.test_discovery import publish

pytestmark = pytest.mark.django_db


def _prices(client, q, lang="ko"):
    client.cookies["django_language"] = lang
    html = client.get("/catalog/", {"q": q}).content.decode()
    return [
        " ".join(re.sub(r"<[^>]+>", " ", p).split())
        for p in re.findall(r'<p class="pg-text cat-price">(.*?)</p>', html)
    ]


def _offers(dataset, *offers):
    dataset.offers.all().delete()
    for kind, price, days in offers:
        Offer.objects.create(dataset=dataset, kind=kind, price_krw=price, subscription_days=days, rule="데이터산업법")
    services.catalog_entry_refresh(dataset)


def test_results_show_the_lowest_one_off_price_and_each_subscription_with_vat(client, publisher):
    Organization.objects.filter(pk=publisher.pk).update(vat_status="taxable")
    dataset = publish(publisher, "유료 대기질 자료", kinds=())
    _offers(
        dataset,
        ("one_off", 50_000, None),
        ("one_off", 30_000, None),
        ("subscription", 100_000, 365),
        ("subscription", 10_000, 30),
        ("subscription", 12_000, 30),
    )
    entry = CatalogEntry.objects.get(dataset=dataset)
    assert entry.price_from_krw == 30_000 and entry.subscription_prices == [[30, 10_000], [365, 100_000]]
    assert _prices(client, "대기질") == ["33,000원부터 · 구독 30일 11,000원 · 구독 365일 110,000원 (부가세 포함)"]
    assert _prices(client, "대기질", "en") == [
        "from 33,000 won · subscription, 30 days: 11,000 won · subscription, 365 days: 110,000 won (VAT included)"
    ]


def test_a_vat_exempt_publisher_shows_the_price_without_vat_and_says_so(client, publisher):
    Organization.objects.filter(pk=publisher.pk).update(vat_status="exempt")
    dataset = publish(publisher, "면세 대기질 자료", kinds=())
    _offers(dataset, ("free", 0, None), ("one_off", 30_000, None))
    assert _prices(client, "대기질") == ["30,000원부터 (면세)"]


def test_free_only_data_shows_no_price_line_and_private_offers_are_not_shown(client, publisher, buyer):
    dataset = publish(publisher, "무료 대기질 자료", kinds=("free",))
    Offer.objects.create(
        dataset=dataset, kind="one_off", price_krw=1_000, buyer=buyer.active_organization, rule="데이터산업법"
    )
    services.catalog_entry_refresh(dataset)
    assert _prices(client, "대기질") == []
    html = client.get("/catalog/", {"q": "대기질"}).content.decode()
    assert "무료" in html and "1,100" not in html


def test_an_offer_change_updates_the_price_shown(client, publisher):
    Organization.objects.filter(pk=publisher.pk).update(vat_status="taxable")
    dataset = publish(publisher, "가격 바뀌는 자료", kinds=())
    _offers(dataset, ("one_off", 30_000, None))
    assert _prices(client, "가격") == ["33,000원부터 (부가세 포함)"]
    _offers(dataset, ("one_off", 20_000, None))
    assert _prices(client, "가격") == ["22,000원부터 (부가세 포함)"]


def test_the_price_comes_from_the_entry_not_a_query_of_the_offers(client, publisher):
    for i in range(5):
        dataset = publish(publisher, f"대기질 자료 {i}", kinds=())
        _offers(dataset, ("one_off", 10_000 * (i + 1), None), ("subscription", 5_000, 30))
    client.get("/catalog/", {"q": "대기질"})  # warm the reference caches
    with CaptureQueriesContext(connection) as queries:
        assert len(_prices(client, "대기질")) == 5
    assert not any("catalog_offer" in q["sql"] for q in queries.captured_queries)
