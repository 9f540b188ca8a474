"""Voucher-eligible offers (데이터바우처): a provider's choice in the offer form, which the reviewer sees on the
review page and buyers see as a badge on the dataset page; a free offer is never voucher-eligible."""

import pytest
from django.urls import reverse

from catalog import services
from catalog.models import Offer
from tests.catalog.test_review import _ready
from tests.transactions.conftest import publish_dataset

FEE = {"kind": "one_off", "price_krw": 20_000, "cost_basis": "파일 가공·전송 비용(건당)"}


@pytest.mark.django_db
def test_the_provider_chooses_it_in_the_offer_form_and_the_reviewer_sees_it(login, official, admin_user, draft):
    _ready(draft)
    client = login(official)
    response = client.post(
        reverse("catalog:offer_create", args=[draft.pk]), {**FEE, "subscription_days": "", "voucher_eligible": "on"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    offer = Offer.objects.get(dataset=draft.dataset, kind="one_off")
    assert offer.voucher_eligible is True
    services.version_submit(actor=official, version=draft)
    html = login(admin_user).get(reverse("catalog:review_version", args=[draft.pk])).content.decode()
    offers = html.split('id="review-offers"')[1].split("</ul>")[0]
    assert "data-offer-voucher" in offers and "데이터바우처 사용 가능" in offers
    # The free offer made by _ready is not marked.
    assert offers.count("data-offer-voucher") == 1


@pytest.mark.django_db
def test_an_offer_is_not_eligible_unless_the_provider_says_so_and_a_free_one_never(official, draft):
    _ready(draft)
    assert services.offer_create(actor=official, dataset=draft.dataset, **FEE).voucher_eligible is False
    free = services.offer_create(actor=official, dataset=draft.dataset, kind="free", voucher_eligible=True)
    assert free.voucher_eligible is False


@pytest.mark.django_db
def test_the_dataset_page_shows_the_badge_on_eligible_offers_only(client, official, admin_user, reference_data):
    dataset = publish_dataset(official, admin_user, offers=({"kind": "free"}, {**FEE, "voucher_eligible": True}))
    html = client.get(reverse("catalog:dataset", args=[dataset.slug])).content.decode()
    eligible = dataset.offers.get(kind="one_off")
    block = html.split(f'id="offer-{eligible.pk}"')[1].split("</li>")[0]
    assert "데이터바우처 사용 가능" in block
    assert html.count("data-voucher-eligible") == 1
