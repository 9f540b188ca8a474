"""The state machines of orders, payments and packages: a table each and one `transition()`.

Illegal transitions raise IllegalTransition. `transition` saves only the state column (plus any
timestamp fields given), so callers hold the row lock (select_for_update) and decide the rest.
"""

from django.utils.translation import gettext_lazy as _

from accounts.exceptions import IllegalTransition
from transactions.models import Order, Package, Payment

O, P, K = Order.State, Payment.State, Package.State

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

TABLES = {Order: ORDER_TRANSITIONS, Payment: PAYMENT_TRANSITIONS, Package: PACKAGE_TRANSITIONS}


def transition(obj, *, to: str, fields: tuple[str, ...] = ()) -> None:
    """Move `obj` (an Order, Payment or Package) to state `to`, or raise IllegalTransition."""
    table = TABLES[type(obj)]
    if to not in table.get(obj.state, set()):
        labels = dict(type(obj).State.choices)
        raise IllegalTransition(
            _("%(what)s: “%(old)s” cannot become “%(new)s”.")
            % {"what": str(type(obj)._meta.verbose_name).capitalize(), "old": labels.get(obj.state, obj.state),
               "new": labels.get(to, to)}
        )
    obj.state = to
    update = ["state", *fields]
    if any(f.name == "updated_at" for f in type(obj)._meta.fields):
        update.append("updated_at")
    obj.save(update_fields=update)
