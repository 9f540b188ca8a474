"""The licence a buyer accepts is one text, blanks filled: the same on the checkout page, in the acceptance
record (its SHA-256), on the order page and in the package's LICENSE.txt, for every reference licence and
every kind of offer the law allows."""

import html
import re
import zipfile
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files import storage
from django.urls import reverse

from accounts.models import Organization
from catalog import licences
from catalog.models import Dataset, DatasetVersion, Licence, Offer
from catalog.pricing import offer_price
from catalog.reference_data import LICENCES, licence_texts
from catalog.services.offers import offer_law_check
from core.errors import DomainError
from tests.transactions.conftest import offer_of, place_order, publish_dataset
from transactions import selectors
from transactions.delivery import packaging
from transactions.delivery import services as delivery
from transactions.models import LicenceAcceptance, Package
from transactions.services import cart as cart_services
from transactions.services.orders import _snapshot_terms, order_mark_paid

PUBLISHER_KO, PUBLISHER_EN = "시흥시 환경정책과", "Siheung Environmental Policy Division"
TITLE_KO, TITLE_EN = "정왕동 대기질 측정 자료", "Jeongwang-dong air quality"
# A raw dump line of the terms snapshot ("private: False", "offer_kind: one_off").
RAW_LINE = re.compile(r"^[a-z_]+: ", re.MULTILINE)
PY_REPR = re.compile(r"\b(True|False|None)\b|^[\[{(]'", re.MULTILINE)


def reference_licences() -> list[Licence]:
    """The standard licences exactly as migration 0002 stores them (unsaved: no database needed)."""
    out = []
    for row in LICENCES:
        code, family, name_ko, name_en, summary_ko, summary_en, extra_ko, extra_en, url, commercial, derivatives = row
        text_ko, text_en = licence_texts(code, summary_ko, summary_en, extra_ko, extra_en, url)
        out.append(
            Licence(
                code=code,
                family=family,
                name_ko=name_ko,
                name_en=name_en,
                summary_ko=summary_ko,
                summary_en=summary_en,
                text_ko=text_ko,
                text_en=text_en,
                url=url,
                allows_commercial_use=commercial,
                allows_derivatives=derivatives,
            )
        )
    return out


OFFERS = {
    "free": {"kind": "free", "price_krw": 0},
    "one_off": {"kind": "one_off", "price_krw": 30_000},
    "subscription": {"kind": "subscription", "price_krw": 90_000, "subscription_days": 90},
}


def _allowed(licence, kind, data_kind) -> bool:
    """Whether the law lets this licence's data be offered this way (공공누리 제2·4유형 data is never sold)."""
    version = DatasetVersion(data_kind=data_kind, licence=licence)
    fields = _offer_fields(kind, data_kind)
    try:
        offer_law_check(
            version=version,
            kind=kind,
            price_krw=fields["price_krw"],
            cost_basis=fields.get("cost_basis", ""),
            contract_type=fields.get("contract_type", ""),
        )
    except DomainError:
        return False
    return True


def _offer_fields(kind, data_kind) -> dict:
    fields = dict(OFFERS[kind])
    if kind != "free":
        fields |= (
            {"cost_basis": "파일 가공·전송 비용 (건당)"} if data_kind == "public" else {"contract_type": "provision"}
        )
    return fields


def cases():
    """Every reference licence × offer kind × kind of data × public/private offer that the law allows."""
    for licence in reference_licences():
        for kind in OFFERS:
            for data_kind in ("public", "private"):
                if not _allowed(licence, kind, data_kind):
                    continue
                for private in (False, True):
                    yield pytest.param(
                        licence, kind, data_kind, private, id=f"{licence.code}-{kind}-{data_kind}-{private}"
                    )


def test_the_cases_cover_every_licence_and_kind():
    covered = {(c.values[0].code, c.values[1]) for c in cases()}
    assert {code for code, _kind in covered} == {row[0] for row in LICENCES}
    assert {kind for _code, kind in covered} == set(OFFERS)
    # Only 공공누리 제2·4유형 (no commercial use) cannot be sold, and so is offered free only.
    assert {(code, kind) for code in ("kogl-2", "kogl-4") for kind in OFFERS} & covered == {
        ("kogl-2", "free"),
        ("kogl-4", "free"),
    }


def _purchase(licence, kind, data_kind, private):
    publisher = Organization(name_ko=PUBLISHER_KO, name_en=PUBLISHER_EN, vat_status="taxable")
    dataset = Dataset(publisher=publisher, slug="air")
    version = DatasetVersion(
        dataset=dataset,
        number=3,
        title_ko=TITLE_KO,
        title_en=TITLE_EN,
        data_kind=data_kind,
        licence=licence,
        state="published",
        published_at=datetime(2024, 12, 31, 16, 0, tzinfo=ZoneInfo("UTC")),  # 2025-01-01 01:00 in Seoul
    )
    fields = _offer_fields(kind, data_kind)
    fields["rule"] = offer_law_check(
        version=version,
        kind=fields["kind"],
        price_krw=fields["price_krw"],
        cost_basis=fields.get("cost_basis", ""),
        contract_type=fields.get("contract_type", ""),
    )
    buyer = Organization(pk=999, name_ko="주식회사 데이터랩", name_en="Datalab Inc.")
    offer = Offer(
        dataset=dataset, buyer=buyer if private else None, terms="납품 후 30일 이내 검수" if private else "", **fields
    )
    rendered = licences.render_for_version(licence, version)
    line = selectors.Line(
        offer=offer,
        version=version,
        price=offer_price(offer),
        licence=licence,
        rendered=rendered,
        licence_sha256=selectors.licence_sha256(rendered),
        problem=None,
    )
    return version, line


def licence_section(text: str) -> str:
    """The accepted licence text LICENSE.txt carries between its two marker lines."""
    start = text.index(packaging.LICENCE_BEGIN + "\n") + len(packaging.LICENCE_BEGIN) + 1
    return text[start : text.index(packaging.LICENCE_END)]


def check_licence_file(text: str, *, sha: str, licence: Licence, title_ko: str, publisher_ko: str) -> None:
    assert "{" not in text and "}" not in text, text
    assert title_ko in text and publisher_ko in text
    section = licence_section(text)
    assert licences.text_sha256(section) == sha  # the acceptance names exactly this text
    assert f"SHA-256: {sha}" in text
    assert not RAW_LINE.search(text) and not PY_REPR.search(text), text
    # The stored text's first sentence (the licence summary) is written once, not once more before it.
    assert text.count(licence.summary_ko) == 1 and text.count(licence.summary_en) == 1


@pytest.mark.parametrize(("licence", "kind", "data_kind", "private"), list(cases()))
def test_every_licence_and_offer_renders_one_filled_text(licence, kind, data_kind, private):
    version, line = _purchase(licence, kind, data_kind, private)
    shown = line.rendered
    # The page's texts (Korean and English).
    for text, title, publisher in ((shown.text_ko, TITLE_KO, PUBLISHER_KO), (shown.text_en, TITLE_EN, PUBLISHER_EN)):
        assert "{" not in text and "}" not in text, text
        assert title in text and publisher in text and "2025" in text
    # What the buyer accepts: the SHA-256 of both texts as shown, and the order keeps those texts.
    assert line.licence_sha256 == licences.text_sha256(licences.accepted_text(shown.text_ko, shown.text_en))
    terms = _snapshot_terms(line)
    assert (terms["licence_text_ko"], terms["licence_text_en"]) == (shown.text_ko, shown.text_en)
    assert terms["licence_sha256"] == line.licence_sha256
    # The package: the same text, and the terms of the purchase worded, not dumped.
    context = packaging.Context(
        order_number="20250101-ABCDEFGH",
        organization="주식회사 데이터랩",
        entitlement_kind=kind,
        valid_from=datetime(2025, 1, 2, tzinfo=ZoneInfo("Asia/Seoul")),
        licence=licence,
        terms=terms,
    )
    text = packaging.licence_text(version, context)
    check_licence_file(text, sha=line.licence_sha256, licence=licence, title_ko=TITLE_KO, publisher_ko=PUBLISHER_KO)
    assert PUBLISHER_EN in text and TITLE_EN in text
    terms_part = text.split("이 구매의 조건 / Terms of this purchase")[1]
    assert {"free": "무료 이용 / Free of charge", "one_off": "단건 구매 / One-off purchase"}.get(
        kind, "구독 / Subscription"
    ) in terms_part
    if kind != "free":
        assert "30,000원" in terms_part or "90,000원" in terms_part
        assert ("파일 가공·전송 비용" in terms_part) == (data_kind == "public")
        assert ("Data provision (제공형)" in terms_part) == (data_kind == "private")
    assert ("납품 후 30일 이내 검수" in terms_part) == private
    assert ("비공개 제안" in terms_part) == private


def test_an_unknown_blank_raises():
    licence = reference_licences()[0]
    values = licences.LicenceValues("기관", "Org", 2025, "제목", "Title")
    licence.text_ko += " '{담당자}'에게 문의"
    with pytest.raises(licences.UnfilledPlaceholder):
        licences.render_licence(licence, values=values)
    licence.text_ko = "괄호 하나 { 남음"
    with pytest.raises(licences.UnfilledPlaceholder):
        licences.render_licence(licence, values=values)
    # A value is inserted as it is, never read as a template itself.
    odd = licences.LicenceValues("기관", "Org", 2025, "{연도} 자료", "Title")
    licence.text_ko = "'{저작물명}'"
    assert licences.render_licence(licence, values=odd).text_ko.endswith("'{연도} 자료'")


def _page_texts(page: str, element_id: str) -> list[str]:
    """The licence texts in one licence block of a page, back to plain text (as the buyer read them)."""
    block = page[page.index(f'id="{element_id}"') :]
    block = block[: block.index("pc-digest")]
    found = re.findall(r'<p class="pc-licence-text"[^>]*>(.*?)</p>', block, re.S)
    return [html.unescape(p.replace("<br>", "\n")) for p in found]


@pytest.fixture
def publish(official, admin_user, reference_data):
    return lambda **kwargs: publish_dataset(official, admin_user, **kwargs)


@pytest.mark.django_db
def test_checkout_order_page_and_package_show_the_accepted_text(login, buyer, publish):
    public = publish()  # 공공데이터, 공공누리 제1유형, free
    private = publish(
        title_ko="스마트폴 환경 센서(가공)",
        title_en="Smart pole sensors (processed)",
        data_kind="private",
        licence="cc-by-nc-4.0",
        offers=({"kind": "subscription", "price_krw": 900_000, "subscription_days": 90, "contract_type": "provision"},),
    )
    publisher = public.publisher
    offers = [offer_of(public, "free"), offer_of(private, "subscription")]
    client = login(buyer)
    for offer in offers:
        cart_services.cart_add(actor=buyer, organization=buyer.active_organization, offer=offer)
    shown = {}
    for language in ("ko", "en"):
        client.cookies["django_language"] = language
        page = client.get(reverse("transactions:checkout")).content.decode()
        assert f'lang="{language}"' in page
        assert "{기관명}" not in page and "{organization}" not in page and "{title}" not in page
        for offer in offers:
            texts = _page_texts(page, f"licence-{offer.pk}")
            assert len(texts) == 2 and all("{" not in t and "}" not in t for t in texts)
            assert all(publisher.name_ko in t or publisher.name_en in t for t in texts)
            shown.setdefault(offer.pk, set()).add(frozenset(texts))
    for offer in offers:
        assert len(shown[offer.pk]) == 1  # the same two texts in either language, only the order differs

    order = place_order(buyer, method="card")  # accepts the SHA-256 the checkout shows (selectors.cart_lines)
    for item in order.items.all():
        acceptance = LicenceAcceptance.objects.get(order_item=item)
        texts_ko_first = sorted(next(iter(shown[item.offer_id])), key=lambda t: not t.startswith("이용허락"))
        assert acceptance.licence_sha256 == licences.text_sha256(licences.accepted_text(*texts_ko_first))
        assert item.terms["licence_sha256"] == acceptance.licence_sha256

    client.cookies["django_language"] = "ko"
    page = client.get(reverse("transactions:order", args=[order.number])).content.decode()
    for item in order.items.all():
        texts = _page_texts(page, f"accepted-licence-{item.pk}")
        assert set(texts) == set(next(iter(shown[item.offer_id])))

    # Paid as a confirmed payment would mark it (the payment itself is other tests' business).
    order_mark_paid(order=order)
    for item in order.items.all():
        package = Package.objects.get(entitlement__order_item=item)
        claimed = delivery.package_claim(package_id=package.pk)
        delivery.package_build(package=claimed)
        package.refresh_from_db()
        with storage.default_storage.open(package.file.name, "rb") as fh, zipfile.ZipFile(fh) as zf:
            text = zf.read("LICENSE.txt").decode("utf-8")
        check_licence_file(
            text,
            sha=item.acceptances.get().licence_sha256,
            licence=item.licence,
            title_ko=item.title,
            publisher_ko=publisher.name_ko,
        )
        assert order.number in text


@pytest.mark.django_db
def test_the_dataset_page_shows_the_filled_licence(client, publish):
    dataset = publish()
    url = reverse("catalog:dataset", args=[dataset.slug])
    for language, expected in (
        ("ko", "이용허락 대상 저작물: '시흥시 대기질 측정 자료'"),
        ("en", "Licensed work: 'Siheung air quality'"),
    ):
        client.cookies["django_language"] = language
        page = client.get(url).content.decode()
        text = html.unescape(page[page.index('id="dataset-licence"') :].split("</section>")[0])
        publisher = dataset.publisher.name_en if language == "en" else dataset.publisher.name_ko
        assert expected in text and publisher in text
        assert not re.search(r"\{[^{}]*\}", text), text


def test_an_order_placed_before_the_blanks_were_filled_gets_a_filled_licence_file():
    """Such an order kept the template and the digest of the template (Korean, blank line, English)."""
    licence = reference_licences()[0]
    version, line = _purchase(licence, "free", "public", False)
    terms = _snapshot_terms(line) | {
        "licence_text_ko": licence.text_ko,
        "licence_text_en": licence.text_en,
        "licence_sha256": licences.text_sha256(f"{licence.text_ko}\n\n{licence.text_en}"),
    }
    text = packaging.licence_text(version, packaging.Context(licence=licence, terms=terms))
    assert "{" not in text and "}" not in text and PUBLISHER_KO in text and TITLE_EN in text
    assert f"recorded with the order: {terms['licence_sha256']}" in text
    assert f"SHA-256: {licences.text_sha256(licence_section(text))}" in text
