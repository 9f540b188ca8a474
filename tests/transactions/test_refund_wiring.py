"""What a done refund sets off beyond its own rows (issue 15, the merge's wiring in transactions/refunds/services.py
`_complete`): each supplier whose line was refunded gets its cancelling document (마이너스) with negative amounts, in
the same transaction as the refund; refunding a subscription's only running period ends the subscription (no renewal,
no reminder), while a partial refund that leaves the period running does not."""

import pytest

from tests.transactions.conftest import offer_of, place_order
from tests.transactions.test_documents import EXEMPT, TAXABLE, exempt_official, two_supplier_order  # noqa: F401
from tests.transactions.test_subscription_delivery import SUBSCRIPTION
from transactions.documents.models import Document
from transactions.models import Entitlement, Order, Refund, Subscription
from transactions.payments import services as payments
from transactions.refunds import services as refunds

pytestmark = pytest.mark.django_db

ACCOUNT = {"bank": "KB국민은행", "account_number": "123-45-6789", "holder": "(주)에어데이터랩"}


def _refund(admin_user, order, lines=None, reason="제공기관 요청으로 판매 철회"):
    """An admin refunds a bank-transfer order and confirms the transfer back: the refund is done."""
    refund = refunds.refund_create(actor=admin_user, order=order, reason=reason, lines=lines)
    assert refund.state == Refund.State.CREATED
    refund = refunds.refund_bank_confirm(actor=admin_user, refund=refund, reference="이체 0001", **ACCOUNT)
    assert refund.state == Refund.State.DONE
    return refund


def test_a_done_refund_issues_a_cancelling_document_per_supplier_with_negative_amounts(
    two_supplier_order,  # noqa: F811
    admin_user,
):
    order = two_supplier_order
    originals = {d.supplier_id: d for d in Document.objects.filter(order=order, original=None)}
    assert len(originals) == 2 and all(d.total_krw > 0 for d in originals.values())

    refund = refunds.refund_create(actor=admin_user, order=order, reason="제공기관 요청으로 판매 철회")
    # Created but not yet paid back: no cancelling document promises money that has not moved.
    assert not Document.objects.filter(order=order, kind=Document.Kind.CANCELLATION).exists()
    refunds.refund_bank_confirm(actor=admin_user, refund=refund, reference="이체 0001", **ACCOUNT)

    cancelling = {d.supplier_id: d for d in Document.objects.filter(order=order, kind=Document.Kind.CANCELLATION)}
    assert cancelling.keys() == originals.keys()
    for supplier_id, document in cancelling.items():
        original = originals[supplier_id]
        assert document.original == original
        assert (document.supply_krw, document.vat_krw, document.total_krw, document.tax_free_krw) == (
            -original.supply_krw,
            -original.vat_krw,
            -original.total_krw,
            -original.tax_free_krw,
        )
        assert document.total_krw < 0 and document.buyer_id == order.buyer_id
        assert {line.ledger_transaction_id for line in refund.lines.filter(order_item__seller_id=supplier_id)} == {
            document.ledger_transaction_id
        }
    assert sum(d.total_krw for d in Document.objects.filter(order=order)) == 0
    # Confirming again (a double click) issues nothing more.
    refunds.refund_bank_confirm(actor=admin_user, refund=refund, reference="이체 0001", **ACCOUNT)
    assert Document.objects.filter(order=order, kind=Document.Kind.CANCELLATION).count() == 2


def test_a_partial_refund_cancels_only_its_suppliers_part(two_supplier_order, official, admin_user):  # noqa: F811
    order = two_supplier_order
    item = order.items.get(seller_id=official.active_organization_id)
    original = Document.objects.get(order=order, supplier_id=item.seller_id, original=None)
    _refund(admin_user, order, lines={item.pk: 11_000})

    (cancelling,) = Document.objects.filter(order=order, kind=Document.Kind.CANCELLATION)
    assert cancelling.supplier_id == item.seller_id and cancelling.original == original
    assert (cancelling.supply_krw, cancelling.vat_krw, cancelling.total_krw) == (-10_000, -1_000, -11_000)


@pytest.fixture
def subscription_period(publish, buyer, admin_user):
    """A company's paid subscription (bank transfer, 99,000 won), its one running period."""
    dataset = publish(offers=(SUBSCRIPTION,))
    order = place_order(buyer, offer_of(dataset, "subscription"), method="bank_transfer")
    payment = payments.bank_transfer_start(actor=buyer, order=order)
    payments.bank_transfer_confirm(actor=admin_user, payment=payment, depositor_name="에어데이터랩")
    period = Entitlement.objects.get(order_item__order=order)
    assert period.subscription.state == Subscription.State.ACTIVE and period.revoked_at is None
    return period


def test_refunding_the_only_running_period_ends_the_subscription(subscription_period, admin_user):
    period = subscription_period
    order = Order.objects.get(pk=period.order_item.order_id)
    _refund(admin_user, order)

    period.refresh_from_db()
    subscription = Subscription.objects.get(pk=period.subscription_id)
    assert period.revoked_at is not None
    assert subscription.state == Subscription.State.ENDED  # not renewed, not reminded


def test_a_partial_refund_that_leaves_the_period_running_keeps_the_subscription(subscription_period, admin_user):
    period = subscription_period
    order = Order.objects.get(pk=period.order_item.order_id)
    _refund(admin_user, order, lines={period.order_item_id: 9_900}, reason="서비스 장애 보상")

    period.refresh_from_db()
    assert period.revoked_at is None
    assert Subscription.objects.get(pk=period.subscription_id).state == Subscription.State.ACTIVE
