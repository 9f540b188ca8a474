"""Read queries of purchases: what a buyer may see and buy, carts, orders, entitlements; shared by the
pages, the purchase panel, the services (which re-check under lock) and the admin pages."""

import hashlib
from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from core.models import AuditEvent
from accounts.models import Organization
from catalog.models import CatalogEntry, Dataset, DatasetVersion, Licence, Offer
from catalog.pricing import ZERO, Price, offer_price
from catalog.services.offers import PINNABLE_STATES, offer_law_problem
from transactions.models import Cart, CartItem, Entitlement, LicenceAcceptance, Order, OrderItem, Payment, PaymentEvent

KIND_ORDER = {Offer.Kind.FREE: 0, Offer.Kind.ONE_OFF: 1, Offer.Kind.SUBSCRIPTION: 2}
OPEN_ORDER_STATES = (Order.State.PENDING, Order.State.AWAITING_PAYMENT)


def licence_sha256(licence: Licence | None) -> str:
    """The "version" of a licence a buyer accepts: SHA-256 of the exact texts shown (Korean, then English).
    Any later edit of either text gives another digest, so an acceptance always names what was read."""
    text = f"{licence.text_ko}\n\n{licence.text_en}" if licence else ""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# Offers as a buyer sees them
# ---------------------------------------------------------------------------------------------


def offers_visible_to(dataset: Dataset, organization: Organization | None) -> list[Offer]:
    """The active offers of a dataset a buyer may see: every public one, and a private one only when it
    names the buyer's organization. Free first, then by price."""
    private = Q(buyer=organization) if organization is not None else Q(pk__in=[])
    offers = (
        Offer.objects.filter(dataset=dataset, active=True).filter(Q(buyer__isnull=True) | private)
        .select_related("dataset__publisher", "version", "buyer")
    )
    return sorted(offers, key=lambda o: (o.buyer_id is None, KIND_ORDER[o.kind], o.price_krw, o.pk))


def offer_version(offer: Offer, *, published: DatasetVersion | None = None) -> DatasetVersion | None:
    """The version a purchase of `offer` delivers now: the pinned one (while buyers can see it), else the
    dataset's published version (pass it as `published` when already loaded). Subscriptions start with the
    published version too."""
    if offer.version_id:
        version = offer.version
        return version if version.state in PINNABLE_STATES else None
    if published is not None:
        return published
    return (
        DatasetVersion.objects.filter(dataset_id=offer.dataset_id, state=DatasetVersion.State.PUBLISHED)
        .select_related("licence", "dataset__publisher").first()
    )


def covering(entitlements: list[Entitlement], *, version: DatasetVersion | None, subscription: bool) -> Entitlement | None:
    """Of `entitlements` (valid ones), the one that already gives what an offer of that version would."""
    now = timezone.now()
    matches = [
        e for e in entitlements
        if (e.kind == Offer.Kind.SUBSCRIPTION and e.valid_from <= now)
        or (not subscription and version is not None and e.version_id == version.pk)
    ]
    # The longest-running first, one without an end above all (as ORDER BY valid_until DESC would).
    return max(matches, key=lambda e: (e.valid_until is None, e.valid_until or now), default=None)


@dataclass
class PurchaseFacts:
    """What purchase_problem needs to know about one organization and one dataset, read once for a page
    that shows several offers (three queries instead of three per offer)."""

    listed: bool
    entitlements: list[Entitlement]
    open_orders: dict[int, Order]  # offer id → an unpaid order holding it


def purchase_facts(organization: Organization, dataset: Dataset, *, listed: bool | None = None) -> PurchaseFacts:
    """One query over the organization's order lines of the dataset gives both the valid entitlements and
    the unpaid orders; `listed` may be passed when the caller knows the dataset is in the catalog."""
    now = timezone.now()
    valid = Q(entitlement__revoked_at__isnull=True) & (
        Q(entitlement__valid_until__isnull=True) | Q(entitlement__valid_until__gt=now)
    )
    items = OrderItem.objects.filter(order__buyer=organization, dataset=dataset).filter(
        Q(order__state__in=OPEN_ORDER_STATES) | (Q(entitlement__isnull=False) & valid)
    ).select_related("order", "entitlement")
    entitlements, open_orders = [], {}
    for item in items:
        if item.order.state in OPEN_ORDER_STATES:
            open_orders.setdefault(item.offer_id, item.order)
        entitlement = getattr(item, "entitlement", None)
        if entitlement is not None and entitlement.revoked_at is None and (
            entitlement.valid_until is None or entitlement.valid_until > now
        ):
            entitlement.order_item = item
            entitlements.append(entitlement)
    if listed is None:
        listed = CatalogEntry.objects.filter(dataset=dataset).exists()
    return PurchaseFacts(listed=listed, entitlements=entitlements, open_orders=open_orders)


def purchase_problem(offer: Offer, organization: Organization, *, version: DatasetVersion | None = None,
                     facts: PurchaseFacts | None = None) -> str | None:
    """Why `organization` cannot buy `offer` now (a sentence for the buyer), or None.

    Checked when the offer goes into a cart, shown on the cart page and checked again, under lock, at
    checkout: an offer may stop, a dataset may be suspended or a version withdrawn in between.
    """
    if offer.buyer_id is not None and offer.buyer_id != organization.pk:
        return _("This offer is not available to your organization.")
    if not offer.active:
        return _("The publisher no longer offers this.")
    if offer.dataset.publisher_id == organization.pk:
        return _("This dataset is your own organization's: it cannot buy it.")
    facts = facts or purchase_facts(organization, offer.dataset)
    if not facts.listed:
        return _("This dataset is not available in the catalog at the moment.")
    version = version or offer_version(offer)
    if version is None:
        return _("The version this offer is for is no longer available.")
    law = offer_law_problem(offer, version)
    if law:
        return _("The publisher must correct this offer before it can be bought: %(reason)s") % {"reason": law}
    subscription = offer.kind == Offer.Kind.SUBSCRIPTION
    owned = covering(facts.entitlements, version=version, subscription=subscription)
    if owned is not None:
        if owned.kind == Offer.Kind.SUBSCRIPTION:
            return _("Your organization's subscription already covers this dataset until %(date)s (order %(number)s).") % {
                "date": timezone.localtime(owned.valid_until).strftime("%Y-%m-%d"), "number": owned.order_item.order.number}
        return _("Your organization already has this version (order %(number)s).") % {"number": owned.order_item.order.number}
    pending = facts.open_orders.get(offer.pk)
    if pending is not None:
        return _("Order %(number)s already holds this offer and waits for payment: pay or cancel it first.") % {
            "number": pending.number}
    return None


# ---------------------------------------------------------------------------------------------
# Carts
# ---------------------------------------------------------------------------------------------


@dataclass
class Line:
    """A cart line as the buyer is shown it and as checkout snapshots it."""

    offer: Offer
    version: DatasetVersion | None
    price: Price
    licence: Licence | None
    licence_sha256: str
    problem: str | None

    @property
    def dataset(self) -> Dataset:
        return self.offer.dataset

    @property
    def title(self) -> str:
        return self.version.title if self.version else str(self.offer.dataset)


def cart_get(user, organization: Organization | None) -> Cart | None:
    if organization is None or not user.is_authenticated:
        return None
    return Cart.objects.filter(user=user, organization=organization).first()


def cart_count(user, organization: Organization | None) -> int:
    if organization is None or not user.is_authenticated:
        return 0
    return CartItem.objects.filter(cart__user=user, cart__organization=organization).count()


def cart_offer_ids(user, organization: Organization | None) -> set[int]:
    if organization is None or not user.is_authenticated:
        return set()
    return set(CartItem.objects.filter(cart__user=user, cart__organization=organization).values_list("offer_id", flat=True))


def cart_lines(cart: Cart | None, organization: Organization) -> list[Line]:
    """The cart's lines with today's price (by the publisher's VAT status), the licence to accept and
    anything that stops the purchase."""
    if cart is None:
        return []
    items = cart.items.select_related("offer__dataset__publisher", "offer__version__licence", "offer__buyer")
    lines = []
    for item in items:
        offer = item.offer
        version = offer_version(offer)
        licence = version.licence if version else None
        lines.append(Line(
            offer=offer, version=version, price=offer_price(offer), licence=licence,
            licence_sha256=licence_sha256(licence), problem=purchase_problem(offer, organization, version=version),
        ))
    return lines


def lines_total(lines: list[Line]) -> Price:
    """공급가액 / 부가세 / 합계 of the lines: the sum of each line's figures (VAT is computed per line)."""
    total = ZERO
    for line in lines:
        total = total + line.price
    return total


# ---------------------------------------------------------------------------------------------
# Orders and entitlements of a buyer
# ---------------------------------------------------------------------------------------------


def orders_for_organization(organization: Organization) -> QuerySet[Order]:
    return Order.objects.filter(buyer=organization).select_related("placed_by").prefetch_related("items")


def order_get_for_buyer(*, organization: Organization | None, number: str) -> Order:
    """An order of the buyer's active organization; 404 for anyone else's (no hint that it exists)."""
    order = (
        Order.objects.filter(number=number, buyer=organization).select_related("buyer", "placed_by").first()
        if organization is not None else None
    )
    if order is None:
        raise Http404
    return order


def order_items(order: Order) -> QuerySet[OrderItem]:
    return (
        order.items.select_related("dataset", "version", "seller", "entitlement")
        .prefetch_related(Prefetch("acceptances", queryset=LicenceAcceptance.objects.select_related("user")))
    )


def entitlements_for_organization(organization: Organization) -> QuerySet[Entitlement]:
    """Everything the organization bought, newest first, with the packages built for it."""
    return (
        Entitlement.objects.filter(organization=organization)
        .select_related("dataset", "version", "order_item__order", "order_item__seller")
        .prefetch_related("packages__version")
    )


def entitlements_for_order(order: Order) -> QuerySet[Entitlement]:
    return (
        Entitlement.objects.filter(order_item__order=order)
        .select_related("dataset", "version", "order_item").prefetch_related("packages__version")
    )


def entitlement_status(entitlement: Entitlement) -> str:
    """active | expired | revoked (for the "My data" page)."""
    if entitlement.revoked_at:
        return "revoked"
    if entitlement.valid_until and entitlement.valid_until <= timezone.now():
        return "expired"
    return "active"


# ---------------------------------------------------------------------------------------------
# Platform admins
# ---------------------------------------------------------------------------------------------


def orders_for_staff() -> QuerySet[Order]:
    return Order.objects.select_related("buyer", "placed_by").prefetch_related("items")


def order_get_for_staff(number: str) -> Order:
    order = Order.objects.filter(number=number).select_related("buyer", "placed_by").first()
    if order is None:
        raise Http404
    return order


def order_payments(order: Order) -> QuerySet[Payment]:
    return order.payments.select_related("confirmed_by").order_by("created_at", "id")


def order_payment_events(order: Order) -> QuerySet[PaymentEvent]:
    return order.payment_events.select_related("payment").order_by("created_at", "id")


def order_audit_events(order: Order) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(object_type="order", object_id=str(order.pk)).select_related("actor").order_by("created_at", "id")


def order_buyers() -> QuerySet[Organization]:
    """Organizations that have placed at least one order (the admin list's buyer filter)."""
    return Organization.objects.filter(orders__isnull=False).distinct().order_by("name_ko")
