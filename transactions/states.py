"""The state machines of orders, payments, packages, refunds and refund requests (registered with core.transitions).

Every move goes through `core.transitions.transition`, which checks these tables, saves the state
with the fields given and writes the audit row. Callers hold the row lock (select_for_update).
"""

from core.transitions import register
from transactions.models import Order, Package, Payment, Refund, RefundRequest

O, P, K = Order.State, Payment.State, Package.State
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
    K.QUEUED: {K.BUILDING},
    K.BUILDING: {K.READY, K.FAILED, K.QUEUED},  # → queued: a retry after a transient error
    K.READY: {K.EXPIRED},
    K.FAILED: {K.QUEUED},  # an admin (or the buyer) retries
    K.EXPIRED: {K.QUEUED},  # rebuilt on request
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
register(Refund, REFUND_TRANSITIONS, organization=lambda refund: refund.order.buyer_id)
register(RefundRequest, REFUND_REQUEST_TRANSITIONS, organization=lambda request: request.order.buyer_id)
