"""The cart: one per user and organization, idempotent adds, and every refusal a buyer can meet — with
the same checks again on the cart page and at checkout."""

import pytest
from django.urls import reverse

from accounts.models import Membership, Organization
from catalog import services as catalog_services
from core.errors import DomainError, NotAllowed
from tests.conftest import make_org, make_user
from tests.transactions.conftest import offer_of
from transactions import selectors
from transactions.models import Cart, CartItem
from transactions.services import cart as cart_services

pytestmark = pytest.mark.django_db


def _add(user, offer, organization=None):
    return cart_services.cart_add(actor=user, organization=organization or user.active_organization, offer=offer)


def test_adding_twice_keeps_one_line_and_removing_empties(buyer, free_dataset):
    offer = offer_of(free_dataset, "one_off")
    first = _add(buyer, offer)
    assert _add(buyer, offer) == first  # a double click
    assert CartItem.objects.count() == 1
    assert cart_services.cart_remove(actor=buyer, organization=buyer.active_organization, offer_id=offer.pk) is True
    assert cart_services.cart_remove(actor=buyer, organization=buyer.active_organization, offer_id=offer.pk) is False
    assert CartItem.objects.count() == 0


def test_one_cart_per_user_and_organization(buyer, free_dataset, private_dataset):
    second_owner = make_user("owner@second.test")
    second = make_org(second_owner, name_ko="(주)두번째", name_en="Second", kind="consumer", brn="2118608983")
    Membership.objects.create(user=buyer, organization=second, role=Membership.Role.BUYER)
    _add(buyer, offer_of(free_dataset, "free"))
    _add(buyer, offer_of(private_dataset, "one_off"), organization=second)
    _add(second_owner, offer_of(private_dataset, "one_off"), organization=second)
    assert Cart.objects.filter(user=buyer).count() == 2
    assert Cart.objects.count() == 3
    assert selectors.cart_offer_ids(buyer, buyer.active_organization) == {offer_of(free_dataset, "free").pk}


def test_refusals(official, buyer, outsider, free_dataset, private_dataset):
    offer = offer_of(free_dataset, "one_off")
    # No organization at all.
    with pytest.raises(NotAllowed):
        cart_services.cart_add(actor=outsider, organization=None, offer=offer)
    # An organization that is not verified yet.
    pending_owner = make_user("owner@pending.test")
    pending = make_org(
        pending_owner, name_ko="(주)심사중", name_en="Pending", kind="consumer", brn="2208162517", verified=False
    )
    with pytest.raises(NotAllowed) as exc:
        _add(pending_owner, offer)
    assert "검증을 기다리고 있습니다" in str(exc.value)
    # A member without the buyer role (a publisher of a company that also provides data).
    both_owner = make_user("owner@both.test")
    both = make_org(both_owner, name_ko="스마트모빌리티(주)", name_en="Smart Mobility", kind="both", brn="2118608983")
    publisher_only = make_user("publisher@both.test")
    Membership.objects.create(user=publisher_only, organization=both, role=Membership.Role.PUBLISHER)
    with pytest.raises(NotAllowed):
        _add(publisher_only, offer, organization=both)
    # A provider-only organization cannot buy, even its owner.
    with pytest.raises(NotAllowed):
        _add(official, offer)
    # Its own organization's data.
    own = catalog_services.dataset_create(
        actor=both_owner,
        organization=both,
        title_ko="모빌리티 자료",
        description_ko="설명",
        theme=free_dataset.versions.get().theme,
        contact_name="이도윤",
        contact_phone="053-000-0000",
        contact_email=both_owner.email,
        update_cadence="daily",
        data_kind="private",
    ).dataset
    own_offer = catalog_services.offer_create(actor=both_owner, dataset=own, kind="free")
    with pytest.raises(DomainError) as exc:
        _add(both_owner, own_offer, organization=both)
    assert exc.value.code == "not_buyable"
    # An offer that stopped.
    catalog_services.offer_deactivate(actor=official, offer=offer)
    with pytest.raises(DomainError):
        _add(buyer, offer)
    # A second offer of a dataset already in the cart.
    _add(buyer, offer_of(private_dataset, "one_off"))
    with pytest.raises(DomainError) as exc:
        _add(buyer, offer_of(private_dataset, "subscription"))
    assert exc.value.code == "dataset_in_cart"
    assert Organization.objects.get(pk=pending.pk).verification == "requested"


def test_something_already_owned_and_valid_is_refused(buyer, free_dataset, private_dataset, buy):
    order = buy(buyer, offer_of(free_dataset, "free"))
    assert order.state == "paid"
    with pytest.raises(DomainError) as exc:  # the same version, again
        _add(buyer, offer_of(free_dataset, "one_off"))
    assert order.number in str(exc.value.message)
    sub = buy(buyer, offer_of(private_dataset, "subscription"), method="bank_transfer")
    assert sub.state == "awaiting_payment"
    with pytest.raises(DomainError) as exc:  # still in an unpaid order
        _add(buyer, offer_of(private_dataset, "subscription"))
    assert sub.number in str(exc.value.message)
    from django.db import transaction

    from transactions.services.orders import order_mark_paid

    with transaction.atomic():
        order_mark_paid(order=sub)
    for kind in ("subscription", "one_off"):  # a running subscription covers the current version too
        with pytest.raises(DomainError) as exc:
            _add(buyer, offer_of(private_dataset, kind))
        assert "subscription" in str(exc.value.message) or "구독" in str(exc.value.message)


def test_an_expired_entitlement_does_not_stop_a_new_purchase(buyer, private_dataset, buy):
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from transactions.models import Entitlement
    from transactions.services.orders import order_mark_paid

    order = buy(buyer, offer_of(private_dataset, "subscription"), method="bank_transfer")
    with transaction.atomic():
        order_mark_paid(order=order)
    Entitlement.objects.update(valid_until=timezone.now() - timedelta(seconds=1))
    assert _add(buyer, offer_of(private_dataset, "subscription"))


def test_the_cart_page_shows_what_stopped_since(login, official, buyer, free_dataset):
    offer = offer_of(free_dataset, "one_off")
    _add(buyer, offer)
    client = login(buyer)
    page = client.get(reverse("transactions:cart")).content.decode()
    assert "30,000" in page and "3,000" in page and "33,000" in page and 'id="checkout-link"' in page
    catalog_services.offer_deactivate(actor=official, offer=offer)
    page = client.get(reverse("transactions:cart")).content.decode()
    assert "pc-problem" in page and 'id="checkout-link"' not in page and 'id="cart-blocked"' in page


def test_cart_add_view_explains_a_refusal_and_never_500s(client, login, outsider, buyer, official, free_dataset):
    offer = offer_of(free_dataset, "free")
    assert client.post(reverse("transactions:cart_add"), {"offer": offer.pk}).status_code == 302  # to the login page
    answer = login(outsider).post(reverse("transactions:cart_add"), {"offer": offer.pk}, follow=True)
    assert answer.status_code == 200 and answer.redirect_chain[-1][0] == reverse(
        "catalog:dataset", args=[free_dataset.slug]
    )
    assert not CartItem.objects.exists()
    messages = [str(m) for m in answer.context["messages"]]
    assert any("organization" in m.lower() or "기관" in m for m in messages), messages
    answer = login(buyer).post(reverse("transactions:cart_add"), {"offer": offer.pk, "then": "checkout"})
    assert answer.status_code == 302 and answer["Location"] == reverse("transactions:checkout")
    assert login(buyer).post(reverse("transactions:cart_add"), {"offer": 999999}).status_code == 404


def test_cart_pages_need_a_buyer(login, outsider, official):
    for name in ("transactions:cart", "transactions:checkout", "transactions:orders", "transactions:entitlements"):
        assert login(outsider).get(reverse(name)).status_code == 403
        assert login(official).get(reverse(name)).status_code == 403
