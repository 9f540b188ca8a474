"""A buyer finds the cart and "내 데이터" from every page's header, and a dataset already held by an unpaid
order links to that order instead of only naming it (issue 13, pages that make people hunt)."""

import pytest
from django.urls import reverse

from tests.transactions.conftest import offer_of

pytestmark = pytest.mark.django_db


def test_the_header_links_a_buyer_to_the_cart_and_to_my_data(login, buyer):
    html = login(buyer).get(reverse("catalog:index")).content.decode()
    assert f'<a href="{reverse("transactions:entitlements")}" id="menu-my-data"' in html
    assert f'<a href="{reverse("transactions:cart")}" id="menu-cart"' in html


def test_the_header_has_no_cart_for_a_provider(login, official):
    html = login(official).get(reverse("catalog:index")).content.decode()
    assert 'id="menu-cart"' not in html and 'id="menu-my-data"' not in html


def test_an_offer_held_by_an_unpaid_order_links_to_it(login, buyer, private_dataset, buy):
    offer = offer_of(private_dataset, "one_off")
    order = buy(buyer, offer, method="bank_transfer")
    html = login(buyer).get(reverse("catalog:dataset", args=[private_dataset.slug])).content.decode()
    link = f'href="{reverse("transactions:order", args=[order.number])}"'
    assert f'{link} class="krds-btn secondary medium pc-wide" id="pending-order-{offer.pk}"' in html
