"""Offers and the law of the data (catalog.services.offers): what may be priced, private offers for one
named buyer, one-off offers pinned to a version, the offer form, and the same law applied again when a
buyer puts an offer in the cart."""

import pytest
from django.urls import reverse

from catalog import services as catalog_services
from catalog.models import Licence, Offer
from catalog.review_forms import OfferForm
from catalog.services.offers import offer_law_problem
from core.errors import DomainError, NotAllowed
from core.models import AuditEvent
from tests.conftest import make_org, make_user
from transactions import selectors
from transactions.services import cart as cart_services

pytestmark = pytest.mark.django_db


def _licence(version, code):
    version.licence = Licence.objects.get(code=code)
    version.save()


def test_kogl_2_and_4_cannot_be_sold_whatever_the_kind_of_data(official, draft):
    """공공누리 제2·4유형 forbid commercial use: free only, for public and private data alike, in every offer kind."""
    for code in ("kogl-2", "kogl-4"):
        for data_kind in ("public", "private"):
            draft.data_kind = data_kind
            _licence(draft, code)
            for kind, extra in (("one_off", {}), ("subscription", {"subscription_days": 30})):
                with pytest.raises(DomainError) as exc:
                    catalog_services.offer_create(
                        actor=official,
                        dataset=draft.dataset,
                        kind=kind,
                        price_krw=10_000,
                        cost_basis="전송 비용",
                        contract_type="provision",
                        **extra,
                    )
                assert exc.value.code == "offer_licence"
                assert "공공누리 제2·4유형" in str(exc.value.message)
            assert catalog_services.offer_create(actor=official, dataset=draft.dataset, kind="free").price_krw == 0
    # KOGL 3 (no derivatives) allows commercial use: a cost-recovery fee is possible.
    draft.data_kind = "public"
    _licence(draft, "kogl-3")
    offer = catalog_services.offer_create(
        actor=official, dataset=draft.dataset, kind="one_off", price_krw=10_000, cost_basis="전송 비용"
    )
    assert offer.rule == "공공데이터법"


def test_public_data_is_free_or_cost_recovery_with_its_basis(official, draft):
    _licence(draft, "kogl-1")
    free = catalog_services.offer_create(actor=official, dataset=draft.dataset, kind="free", price_krw=5_000)
    assert (free.price_krw, free.rule) == (0, "공공데이터법")  # a price on a free offer is dropped
    with pytest.raises(DomainError) as exc:
        catalog_services.offer_create(
            actor=official, dataset=draft.dataset, kind="one_off", price_krw=5_000, cost_basis="  "
        )
    assert exc.value.code == "offer_cost_basis" and "제35조" in str(exc.value.message)
    offer = catalog_services.offer_create(
        actor=official,
        dataset=draft.dataset,
        kind="one_off",
        price_krw=5_000,
        cost_basis="매체비·전송비 (건당)",
        contract_type="provision",
    )
    # Public data follows 공공데이터법, not a 데이터산업법 contract: the contract type is not kept.
    assert (offer.rule, offer.cost_basis, offer.contract_type) == ("공공데이터법", "매체비·전송비 (건당)", "")


def test_private_data_needs_a_standard_contract_type(official, draft):
    draft.data_kind = "private"
    _licence(draft, "cc-by-nc-4.0")  # any licence, even a non-commercial one, may be sold as private data
    with pytest.raises(DomainError) as exc:
        catalog_services.offer_create(actor=official, dataset=draft.dataset, kind="one_off", price_krw=300_000)
    assert exc.value.code == "offer_contract"
    for contract in Offer.Contract.values:
        offer = catalog_services.offer_create(
            actor=official,
            dataset=draft.dataset,
            kind="one_off",
            price_krw=300_000,
            contract_type=contract,
            cost_basis="ignored",
        )
        assert (offer.rule, offer.contract_type, offer.cost_basis) == ("데이터산업법", contract, "")


def test_an_offer_must_satisfy_the_published_version_and_the_new_one(official, admin_user, publish):
    """While a new version changes public data into private data, a paid offer needs both a basis and a contract."""
    dataset = publish(offers=({"kind": "free"},))
    draft = catalog_services.version_start_new(actor=official, dataset=dataset, change_note="가공 자료로 전환")
    catalog_services.version_update_metadata(actor=official, version=draft, data_kind="private")
    with pytest.raises(DomainError) as exc:
        catalog_services.offer_create(
            actor=official, dataset=dataset, kind="one_off", price_krw=9_000, contract_type="provision"
        )
    assert exc.value.code == "offer_cost_basis"  # the published, public version still rules today
    offer = catalog_services.offer_create(
        actor=official,
        dataset=dataset,
        kind="one_off",
        price_krw=9_000,
        contract_type="provision",
        cost_basis="전송 비용",
    )
    assert offer.rule == "공공데이터법 / 데이터산업법"
    assert (offer.cost_basis, offer.contract_type) == ("전송 비용", "provision")


def test_the_law_is_applied_again_to_the_version_a_buyer_would_get(official, buyer, publish):
    """An offer made under one licence is refused in the cart once the published version carries KOGL 2."""
    dataset = publish(offers=({"kind": "one_off", "price_krw": 20_000, "cost_basis": "전송 비용"},))
    offer = dataset.offers.get()
    version = dataset.versions.get(state="published")
    assert offer_law_problem(offer, version) is None
    version.licence = Licence.objects.get(code="kogl-2")
    version.save(update_fields=["licence"])  # as if a later version were published under KOGL 2
    assert "공공누리 제2·4유형" in offer_law_problem(offer, version)
    with pytest.raises(DomainError) as exc:
        cart_services.cart_add(actor=buyer, organization=buyer.active_organization, offer=offer)
    assert exc.value.code == "not_buyable" and "공공누리 제2·4유형" in str(exc.value.message)


def test_one_off_offers_pinned_to_a_published_version(official, admin_user, publish):
    dataset = publish(offers=({"kind": "free"},))
    v1 = dataset.versions.get(number=1)
    pinned = catalog_services.offer_create(
        actor=official, dataset=dataset, kind="one_off", price_krw=10_000, cost_basis="전송 비용", version=v1
    )
    assert pinned.version == v1 and selectors.offer_version(pinned) == v1
    with pytest.raises(DomainError) as exc:
        catalog_services.offer_create(
            actor=official,
            dataset=dataset,
            kind="subscription",
            price_krw=10_000,
            subscription_days=30,
            cost_basis="x",
            version=v1,
        )
    assert exc.value.code == "offer_version_kind"
    draft = catalog_services.version_start_new(actor=official, dataset=dataset, change_note="새 측정소")
    with pytest.raises(DomainError) as exc:  # a draft is not visible to buyers
        catalog_services.offer_create(
            actor=official, dataset=dataset, kind="one_off", price_krw=10_000, cost_basis="x", version=draft
        )
    assert exc.value.code == "offer_version"
    latest = catalog_services.offer_create(
        actor=official, dataset=dataset, kind="one_off", price_krw=12_000, cost_basis="x"
    )
    assert latest.version is None and selectors.offer_version(latest) == v1  # the latest published at purchase


def test_private_offers_name_one_verified_buyer(official, buyer, draft):
    _licence(draft, "kogl-1")
    company = buyer.active_organization
    offer = catalog_services.offer_create(
        actor=official,
        dataset=draft.dataset,
        kind="one_off",
        price_krw=7_000,
        cost_basis="맞춤 추출 비용",
        buyer=company,
        terms="연구 목적 이용에 한함",
    )
    assert (offer.buyer, offer.terms) == (company, "연구 목적 이용에 한함")
    assert AuditEvent.objects.filter(action="offer.created", data__buyer=company.name_ko).exists()
    with pytest.raises(DomainError) as exc:
        catalog_services.offer_create(
            actor=official, dataset=draft.dataset, kind="free", buyer=official.active_organization
        )
    assert exc.value.code == "offer_buyer_self"
    pending = make_org(
        make_user("new@co.test"),
        name_ko="미인증(주)",
        name_en="Unverified",
        kind="consumer",
        brn="2208162517",
        verified=False,
    )
    with pytest.raises(DomainError) as exc:
        catalog_services.offer_create(actor=official, dataset=draft.dataset, kind="free", buyer=pending)
    assert exc.value.code == "offer_buyer_unverified"
    with pytest.raises(DomainError) as exc:
        catalog_services.offer_create(actor=official, dataset=draft.dataset, kind="free", terms="조건")
    assert exc.value.code == "offer_terms"
    with pytest.raises(NotAllowed):
        catalog_services.offer_create(actor=buyer, dataset=draft.dataset, kind="free")


def test_the_offer_form_names_the_buyer_by_registration_number(official, buyer, draft):
    form = OfferForm(
        {"kind": "one_off", "price_krw": "7000", "cost_basis": "x", "buyer_brn": "116-82-00276"}, dataset=draft.dataset
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["buyer"] == buyer.active_organization and "buyer_brn" not in form.cleaned_data
    unknown = OfferForm({"kind": "free", "buyer_brn": "123-45-67890"}, dataset=draft.dataset)
    assert not unknown.is_valid() and "buyer_brn" in unknown.errors
    assert OfferForm({"kind": "free"}, dataset=draft.dataset).is_valid()


def test_publisher_adds_a_private_offer_on_the_version_page(login, official, buyer, admin_user, publish):
    """The form on step 4 of a published version: a refusal explains the law; a private offer is listed with its buyer."""
    dataset = publish(offers=({"kind": "free"},))
    version = dataset.versions.get()
    client = login(official)
    url = reverse("catalog:offer_create", args=[version.pk])
    answer = client.post(url, {"kind": "one_off", "price_krw": "9000"}, follow=True)
    assert "공공데이터법 제35조" in answer.content.decode()  # the refusal says why
    client.post(
        url,
        {
            "kind": "one_off",
            "price_krw": "9000",
            "cost_basis": "맞춤 추출 비용",
            "buyer_brn": "1168200276",
            "terms": "연구 목적 이용에 한함",
            "version": str(version.pk),
        },
    )
    offer = dataset.offers.get(buyer__isnull=False)
    assert (offer.buyer, offer.version, offer.price_krw) == (buyer.active_organization, version, 9_000)
    page = client.get(reverse("catalog:version_submission", args=[version.pk])).content.decode()
    assert "(주)에어데이터랩" in page and "연구 목적 이용에 한함" in page and "제35조" in page


def test_a_private_offer_is_visible_and_buyable_only_by_its_buyer(official, buyer, free_dataset, rf):
    from django.template import Context, Template

    company = buyer.active_organization
    private = catalog_services.offer_create(
        actor=official,
        dataset=free_dataset,
        kind="one_off",
        price_krw=7_000,
        cost_basis="맞춤 추출 비용",
        buyer=company,
        terms="연구 목적 이용에 한함",
    )
    other_owner = make_user("owner@other.test")
    other = make_org(other_owner, name_ko="(주)다른회사", name_en="Other", kind="consumer", brn="2118608983")
    assert private in selectors.offers_visible_to(free_dataset, company)
    assert private not in selectors.offers_visible_to(free_dataset, other)
    assert private not in selectors.offers_visible_to(free_dataset, None)
    with pytest.raises(NotAllowed):
        cart_services.cart_add(actor=other_owner, organization=other, offer=private)
    assert cart_services.cart_add(actor=buyer, organization=company, offer=private).offer == private

    def panel(user):
        from django.contrib.auth.models import AnonymousUser

        from accounts.middleware import _active_membership, _memberships

        request = rf.get(f"/catalog/{free_dataset.slug}/")
        request.user = user or AnonymousUser()
        request.user_memberships = _memberships(request) if user else []
        request.active_membership = _active_membership(request) if user else None
        return Template("{% load purchase %}{% purchase_panel dataset %}").render(
            Context({"request": request, "dataset": free_dataset})
        )

    assert "연구 목적 이용에 한함" in panel(buyer) and f"purchase-offer-{private.pk}" in panel(buyer)
    for viewer in (other_owner, None, official):
        html = panel(viewer)
        assert "연구 목적 이용에 한함" not in html and f"purchase-offer-{private.pk}" not in html
