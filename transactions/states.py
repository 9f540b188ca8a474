"""The state machines of orders, payments, packages, refunds and refund requests (registered with core.transitions).

Every move goes through `core.transitions.transition`, which checks these tables, saves the state
with the fields given and writes the audit row. Callers hold the row lock (select_for_update).
"""

from core.transitions import register
from transactions.models import (
    CashReceiptCancel,
    Order,
    Package,
    Payment,
    ProviderStatement,
    Refund,
    RefundRequest,
    Subscription,
    Voucher,
)

O, P, K, S = Order.State, Payment.State, Package.State, Subscription.State
R, RQ = Refund.State, RefundRequest.State

ORDER_TRANSITIONS = {
    O.PENDING: {O.AWAITING_PAYMENT, O.PAID, O.CANCELLED},  # → paid directly: free orders
    O.AWAITING_PAYMENT: {O.PAID, O.CANCELLED},
    O.PAID: {O.FULFILLED, O.REFUNDED},
    O.FULFILLED: {O.REFUNDED},
    O.CANCELLED: set(),
    O.REFUNDED: set(),
}

PAYMENT_TRANSITIONS = {
    P.READY: {P.CONFIRMING, P.DONE, P.FAILED, P.CANCELLED},  # → done directly: bank transfers (no PG call)
    P.CONFIRMING: {P.DONE, P.FAILED, P.CANCELLED},  # → cancelled: the order could not take it (voided at the PG)
    P.DONE: {P.REFUNDED, P.PARTIALLY_REFUNDED},
    P.PARTIALLY_REFUNDED: {P.REFUNDED, P.PARTIALLY_REFUNDED},
    P.FAILED: set(),
    P.CANCELLED: set(),
    P.REFUNDED: set(),
}

PACKAGE_TRANSITIONS = {
    K.QUEUED: {K.BUILDING, K.EXPIRED},  # → expired: its purchase ended (refund, period over) before it was built
    K.BUILDING: {K.READY, K.FAILED, K.QUEUED, K.EXPIRED},  # → queued: a retry after a transient error
    K.READY: {K.EXPIRED},
    K.FAILED: {K.QUEUED},  # an admin (or the buyer) retries
    K.EXPIRED: {K.QUEUED},  # rebuilt on request
}

SUBSCRIPTION_TRANSITIONS = {
    S.ACTIVE: {S.CANCELLED, S.ENDED},  # → cancelled: the buyer turns renewal off; → ended: not renewed in time
    S.CANCELLED: {S.ACTIVE, S.ENDED},  # → active: the buyer turns renewal back on, or pays a renewal
    S.ENDED: {S.ACTIVE},  # subscribed again
}

VOUCHER_TRANSITIONS = {
    Voucher.State.REGISTERED: {Voucher.State.VERIFIED, Voucher.State.REJECTED},  # a platform admin decides
    Voucher.State.VERIFIED: set(),
    Voucher.State.REJECTED: set(),
}

REFUND_TRANSITIONS = {
    R.CREATED: {R.TRANSMITTED, R.DONE, R.FAILED},  # → done directly: a bank transfer the admin confirms
    R.TRANSMITTED: {R.DONE, R.FAILED},  # the PG's answer (or the reconciliation's, same Idempotency-Key)
    R.DONE: set(),
    R.FAILED: set(),
}

REFUND_REQUEST_TRANSITIONS = {
    RQ.REQUESTED: {RQ.APPROVED, RQ.REFUSED},
    RQ.APPROVED: set(),
    RQ.REFUSED: set(),
}

register(Order, ORDER_TRANSITIONS, organization=lambda order: order.buyer_id)
register(Payment, PAYMENT_TRANSITIONS, organization=lambda payment: payment.order.buyer_id)
register(Package, PACKAGE_TRANSITIONS, organization=lambda package: package.entitlement.organization_id)
register(Subscription, SUBSCRIPTION_TRANSITIONS, organization=lambda subscription: subscription.organization_id)

ST = ProviderStatement.State
# open only inside statements_close_month's transaction; paid is final (a database trigger refuses any change).
STATEMENT_TRANSITIONS = {ST.OPEN: {ST.CLOSED}, ST.CLOSED: {ST.PAID}, ST.PAID: set()}
register(ProviderStatement, STATEMENT_TRANSITIONS, organization=lambda statement: statement.organization_id)
register(Voucher, VOUCHER_TRANSITIONS, organization=lambda voucher: voucher.organization_id)
register(Refund, REFUND_TRANSITIONS, organization=lambda refund: refund.order.buyer_id)
register(RefundRequest, REFUND_REQUEST_TRANSITIONS, organization=lambda request: request.order.buyer_id)

CC = CashReceiptCancel.State
# pending until the PG answers (a call without an answer stays pending: the reconciliation asks again, same key).
CASH_RECEIPT_CANCEL_TRANSITIONS = {CC.PENDING: {CC.DONE, CC.FAILED}, CC.DONE: set(), CC.FAILED: set()}
register(CashReceiptCancel, CASH_RECEIPT_CANCEL_TRANSITIONS, organization=lambda cancel: cancel.receipt.buyer_id)

# Issue 16: webhook deliveries (transactions.livefeed)
# API plans (issue 16): active until cancelled by the buyer (or replaced by another plan of the dataset), or ended
# (the subscription period over, the order line refunded).
from transactions.apiplans.models import ApiPlan  # noqa: E402
from transactions.livefeed.states import DELIVERY_TRANSITIONS  # noqa: E402, F401  (registers its state table)

AP = ApiPlan.State
register(
    ApiPlan,
    # cancelled → active: a subscription plan replaced by its renewal runs again when the renewal is refunded.
    {AP.ACTIVE: {AP.CANCELLED, AP.ENDED}, AP.CANCELLED: {AP.ACTIVE}, AP.ENDED: set()},
    organization=lambda plan: plan.organization_id,
    action="apiplan",
)
