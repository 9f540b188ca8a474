"""The refund policy (청약철회, 제17조②5호) applied to API plans (issue 16): an API line whose data was already read
through the data API, and a metered plan's monthly bill (calls already made), cannot be withdrawn for change of mind;
an API subscription nobody has called yet still can."""

import pytest

from transactions.apiplans import billing
from transactions.apiplans.models import ApiUsage
from transactions.models import RefundRequest
from transactions.payments import services as payments
from transactions.refunds import policy

from .test_apiplans_billing import LAST_MONTH, metered  # noqa: F401  (the fixture)
from .test_apiplans_plans import api_dataset, buy_api_subscription  # noqa: F401  (the fixture)

WITHDRAW = RefundRequest.Kind.CHANGE_OF_MIND
DEFECT = RefundRequest.Kind.NOT_AS_DESCRIBED


@pytest.mark.django_db
def test_an_api_subscription_already_called_cannot_be_withdrawn_for_change_of_mind(buyer, admin_user, api_dataset):  # noqa: F811
    plan = buy_api_subscription(buyer, api_dataset, admin_user)
    item = plan.entitlement.order_item
    order = item.order
    order.refresh_from_db()
    assert policy.request_problem(order, item, WITHDRAW) is None  # nothing read yet: withdrawal is open
    ApiUsage.objects.create(
        organization_id=plan.organization_id, plan=plan, dataset=api_dataset, table="t1", day=LAST_MONTH, calls=5_000
    )
    assert policy.request_problem(order, item, WITHDRAW) is not None
    assert policy.request_problem(order, item, DEFECT) is None  # not as described stays open


@pytest.mark.django_db
def test_a_paid_metered_bill_cannot_be_withdrawn_for_change_of_mind(metered, buyer, admin_user):  # noqa: F811
    order = billing.bills_make_month(month=LAST_MONTH)[0].order
    payment = payments.bank_transfer_start(actor=buyer, order=order)
    payments.bank_transfer_confirm(
        actor=admin_user, payment=payment, depositor_name="에어데이터랩", amount_krw=order.total_krw
    )
    order.refresh_from_db()
    item = order.items.get()
    assert policy.request_problem(order, item, WITHDRAW) is not None
    assert policy.request_problem(order, item, DEFECT) is None


@pytest.mark.django_db
def test_refunding_a_renewal_of_the_api_subscription_keeps_the_month_already_paid(buyer, admin_user, api_dataset):  # noqa: F811
    from transactions.dataapi.access import data_access
    from transactions.refunds import services as refunds

    org = buyer.active_organization
    first = buy_api_subscription(buyer, api_dataset, admin_user)
    renewal = buy_api_subscription(buyer, api_dataset, admin_user)
    refund = refunds.refund_create(
        actor=admin_user, order=renewal.entitlement.order_item.order, reason="구매자 요청: 갱신 취소"
    )
    refunds.refund_bank_confirm(
        actor=admin_user, refund=refund, bank="국민은행", account_number="123-456", holder="(주)에어데이터랩"
    )
    # The first month was paid and not refunded: its plan meters the calls again, to its own end.
    access = data_access(user=buyer, organization=org, dataset=api_dataset, version=None)
    assert access.full and access.live and access.plan == first
    first.refresh_from_db()
    assert first.state == "active"
    renewal.refresh_from_db()
    assert renewal.state == "ended"


@pytest.mark.django_db
def test_a_free_plan_cannot_silently_end_a_paid_subscription_plan_still_running(buyer, admin_user, api_dataset):  # noqa: F811
    from catalog.models import Offer
    from core.errors import DomainError
    from transactions.apiplans.models import ApiPlan

    from .conftest import offer_of
    from .test_apiplans_plans import take

    paid = buy_api_subscription(buyer, api_dataset, admin_user)
    with pytest.raises(DomainError):
        take(buyer, offer_of(api_dataset, Offer.Kind.API_DEV))
    with pytest.raises(DomainError):
        take(buyer, offer_of(api_dataset, Offer.Kind.API_METERED), monthly_cap_krw=10_000)
    paid.refresh_from_db()
    assert paid.state == "active"
    assert ApiPlan.objects.filter(state="active").count() == 1


@pytest.mark.django_db
def test_my_data_shows_a_cancelled_or_replaced_api_plan_as_ended_not_as_running(buyer, api_dataset):  # noqa: F811
    from catalog.models import Offer
    from transactions import selectors
    from transactions.apiplans import services as plan_services

    from .conftest import offer_of
    from .test_apiplans_plans import take

    dev = take(buyer, offer_of(api_dataset, Offer.Kind.API_DEV))
    metered = take(buyer, offer_of(api_dataset, Offer.Kind.API_METERED), monthly_cap_krw=10_000)  # replaces dev
    rows = {r.entitlement.pk: r.status.state for r in selectors.my_data(buyer.active_organization)}
    assert rows[dev.entitlement_id] == "ended"
    assert rows[metered.entitlement_id] == "api"
    plan_services.api_plan_cancel(actor=buyer, plan=metered)
    rows = {r.entitlement.pk: r.status.state for r in selectors.my_data(buyer.active_organization)}
    assert rows[metered.entitlement_id] == "ended"
