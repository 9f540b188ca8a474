"""Read queries of purchases: what a buyer may see and buy, carts, orders, entitlements; shared by the
pages, the purchase panel, the services (which re-check under lock) and the admin pages."""

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import rules
from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import Organization
from catalog import selectors as catalog_selectors
from catalog.licences import RenderedLicence, UnfilledPlaceholder, render_for_version, text_sha256
from catalog.models import API_OFFER_KINDS, CatalogEntry, Dataset, DatasetVersion, Licence, Offer
from catalog.pricing import ZERO, Price, offer_price
from catalog.services.offers import PINNABLE_STATES, offer_law_problem
from core.models import AuditEvent
from core.text import lazy_percent
from transactions.delivery.selectors import error_parts
from transactions.models import (
    ApiPlan,
    Cart,
    CartItem,
    Entitlement,
    LicenceAcceptance,
    Order,
    OrderItem,
    Package,
    Payment,
    PaymentEvent,
    Subscription,
)

OPEN_ORDER_STATES = (Order.State.PENDING, Order.State.AWAITING_PAYMENT)


def licence_sha256(rendered: RenderedLicence | None) -> str:
    """The "version" of a licence a buyer accepts: SHA-256 of the exact texts shown, blanks filled
    (catalog.licences.accepted_text). Any later edit of either text, or of what fills its blanks (the
    publisher's name, the title), gives another digest, so an acceptance always names what was read."""
    return rendered.sha256 if rendered else text_sha256("")


# ---------------------------------------------------------------------------------------------
# Offers as a buyer sees them
# ---------------------------------------------------------------------------------------------


def offers_visible_to(dataset: Dataset, organization: Organization | None) -> list[Offer]:
    """The active offers of a dataset a buyer may see (catalog.selectors.offers_visible_to: the catalog's API
    shows the same ones)."""
    return catalog_selectors.offers_visible_to(dataset, organization)


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
        .select_related("licence", "dataset__publisher")
        .first()
    )


def covering(
    entitlements: list[Entitlement], *, version: DatasetVersion | None, subscription: bool
) -> Entitlement | None:
    """Of `entitlements` (valid ones), the one that already gives what an offer of that version would."""
    now = timezone.now()
    matches = [
        e
        for e in entitlements
        if (e.kind == Offer.Kind.SUBSCRIPTION and e.valid_from <= now)
        or (not subscription and version is not None and e.version_id == version.pk)
    ]
    # The longest-running first, one without an end above all (as ORDER BY valid_until DESC would).
    return max(matches, key=lambda e: (e.valid_until is None, e.valid_until or now), default=None)


def _renewal_refusal(entitlements: list[Entitlement]):
    """Why a subscription to a dataset the organization subscribes to cannot be bought now, or None. Buying it
    again is renewing it (the new period starts when the last one ends): open from SUBSCRIPTION_REMINDER_DAYS
    before that end, and once (a period already paid ahead is enough)."""
    now = timezone.now()
    periods = [e for e in entitlements if e.kind == Offer.Kind.SUBSCRIPTION and e.valid_until]
    if not periods:
        return None
    last = max(periods, key=lambda e: e.valid_until)
    facts = {
        "date": timezone.localtime(last.valid_until).strftime("%Y-%m-%d"),
        "number": last.order_item.order.number,
    }
    if any(e.valid_from > now for e in periods):
        return lazy_percent(
            gettext_lazy(
                "Your organization has already renewed this subscription: it runs until %(date)s (order %(number)s)."
            ),
            facts,
        )
    opens = last.valid_until - timedelta(days=settings.SUBSCRIPTION_REMINDER_DAYS)
    if now < opens:
        return lazy_percent(
            gettext_lazy(
                "Your organization's subscription already covers this dataset until %(date)s (order %(number)s). "
                "It can be renewed from %(opens)s."
            ),
            {**facts, "opens": timezone.localtime(opens).strftime("%Y-%m-%d")},
        )
    return None


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
    items = (
        OrderItem.objects.filter(order__buyer=organization, dataset=dataset)
        .filter(Q(order__state__in=OPEN_ORDER_STATES) | (Q(entitlement__isnull=False) & valid))
        .select_related("order", "entitlement")
    )
    entitlements, open_orders = [], {}
    for item in items:
        if item.order.state in OPEN_ORDER_STATES:
            open_orders.setdefault(item.offer_id, item.order)
        entitlement = getattr(item, "entitlement", None)
        if (
            entitlement is not None
            and entitlement.revoked_at is None
            and (entitlement.valid_until is None or entitlement.valid_until > now)
        ):
            entitlement.order_item = item
            entitlements.append(entitlement)
    if listed is None:
        listed = CatalogEntry.objects.filter(dataset=dataset).exists()
    return PurchaseFacts(listed=listed, entitlements=entitlements, open_orders=open_orders)


def purchase_problem(
    offer: Offer,
    organization: Organization,
    *,
    version: DatasetVersion | None = None,
    facts: PurchaseFacts | None = None,
):
    """Why `organization` cannot buy `offer` now (a sentence for the buyer, lazy: shown in the language of
    whoever reads it, so the API gives it in Korean and English), or None.

    Checked when the offer goes into a cart, shown on the cart page and checked again, under lock, at
    checkout: an offer may stop, a dataset may be suspended or a version withdrawn in between.
    """
    if offer.buyer_id is not None and offer.buyer_id != organization.pk:
        return gettext_lazy("This offer is not available to your organization.")
    if not offer.active:
        return gettext_lazy("The publisher no longer offers this.")
    if offer.dataset.publisher_id == organization.pk:
        return gettext_lazy("This dataset is your own organization's: it cannot buy it.")
    facts = facts or purchase_facts(organization, offer.dataset)
    if not facts.listed:
        return gettext_lazy("This dataset is not available in the catalog at the moment.")
    version = version or offer_version(offer)
    if version is None:
        return gettext_lazy("The version this offer is for is no longer available.")
    law = offer_law_problem(offer, version)
    if law:
        return lazy_percent(
            gettext_lazy("The publisher must correct this offer before it can be bought: %(reason)s"), {"reason": law}
        )
    if offer.kind in API_OFFER_KINDS:
        return _api_plan_refusal(offer, organization, facts)
    subscription = offer.kind == Offer.Kind.SUBSCRIPTION
    if subscription:
        renewal = _renewal_refusal(facts.entitlements)
        if renewal is not None:
            return renewal
    owned = None if subscription else covering(facts.entitlements, version=version, subscription=False)
    if owned is not None:
        if owned.kind == Offer.Kind.SUBSCRIPTION:
            return lazy_percent(
                gettext_lazy(
                    "Your organization's subscription already covers this dataset until %(date)s (order %(number)s)."
                ),
                {
                    "date": timezone.localtime(owned.valid_until).strftime("%Y-%m-%d"),
                    "number": owned.order_item.order.number,
                },
            )
        return lazy_percent(
            gettext_lazy("Your organization already has this version (order %(number)s)."),
            {"number": owned.order_item.order.number},
        )
    pending = facts.open_orders.get(offer.pk)
    if pending is not None:
        return lazy_percent(
            gettext_lazy("Order %(number)s already holds this offer and waits for payment: pay or cancel it first."),
            {"number": pending.number},
        )
    return None


def _api_plan_refusal(offer: Offer, organization: Organization, facts: PurchaseFacts):
    """Why an API offer (issue 16) cannot be taken now, or None: the organization has this plan of the dataset
    already (a subscription plan may be renewed: the new month starts when the running one ends), or an order
    holding it waits for payment."""
    running = (
        ApiPlan.objects.filter(organization=organization, dataset_id=offer.dataset_id, state=ApiPlan.State.ACTIVE)
        .select_related("entitlement")
        .first()
    )
    if running is not None and running.kind == offer.kind and offer.kind != Offer.Kind.API_SUBSCRIPTION:
        return gettext_lazy("Your organization already has this API plan for the dataset: see API usage.")
    if (
        running is not None
        and running.kind == Offer.Kind.API_SUBSCRIPTION
        and offer.kind != Offer.Kind.API_SUBSCRIPTION
        and running.entitlement.revoked_at is None
        and running.entitlement.valid_until
        and running.entitlement.valid_until > timezone.now()
    ):
        # Taking it would end the month paid for (one plan meters a dataset's calls), with nothing given back.
        return lazy_percent(
            gettext_lazy(
                "Your organization's paid subscription plan for this dataset runs until %(date)s: take another "
                "plan after it ends."
            ),
            {"date": timezone.localtime(running.entitlement.valid_until).strftime("%Y-%m-%d %H:%M")},
        )
    pending = facts.open_orders.get(offer.pk)
    if pending is not None:
        return lazy_percent(
            gettext_lazy("Order %(number)s already holds this offer and waits for payment: pay or cancel it first."),
            {"number": pending.number},
        )
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
    rendered: RenderedLicence | None  # the licence text as shown and accepted, blanks filled
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
    return set(
        CartItem.objects.filter(cart__user=user, cart__organization=organization).values_list("offer_id", flat=True)
    )


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
        problem = purchase_problem(offer, organization, version=version)
        try:
            rendered = render_for_version(licence, version, publisher=offer.dataset.publisher)
        except UnfilledPlaceholder:
            # A licence text with a blank nobody can fill is not a text anyone may accept.
            rendered, problem = (
                None,
                problem or gettext_lazy("The licence text has a blank: ask the publisher to fix it."),
            )
        lines.append(
            Line(
                offer=offer,
                version=version,
                price=offer_price(offer),
                licence=licence,
                rendered=rendered,
                licence_sha256=licence_sha256(rendered),
                problem=problem,
            )
        )
    return lines


def cart_line(user, organization: Organization | None, offer_id: int) -> Line:
    """One line of the user's cart for the organization, as the cart page shows it; 404 when the offer is not in it."""
    for line in cart_lines(cart_get(user, organization), organization):
        if line.offer.pk == offer_id:
            return line
    raise Http404


def offer_for_cart(pk, organization: Organization | None = None) -> Offer:
    """The offer a buyer asks to put in the cart (cart_add checks whether it may); 404 when there is none, and for
    a private offer made to another organization (whose existence is none of this buyer's business)."""
    offer = Offer.objects.select_related("dataset").filter(pk=pk).first() if str(pk).isdigit() else None
    if offer is None or (offer.buyer_id is not None and offer.buyer_id != getattr(organization, "pk", None)):
        raise Http404
    return offer


def may_read_purchases(user, organization: Organization | None) -> bool:
    """Whether the user may see the organization's cart, orders, entitlements and packages: the buyer rule
    (accounts.buy_for_org, as the buyer's pages), whatever the scopes of an API key the user sent. Reading
    with a key needs its `read` or `buy` scope, which the API checks first (accounts.api.permissions.HasScope)."""
    return organization is not None and rules.has_perm("accounts.buy_for_org", user, organization)


def lines_total(lines: list[Line]) -> Price:
    """공급가액 / 부가세 / 합계 of the lines: the sum of each line's figures (VAT is computed per line)."""
    total = ZERO
    for line in lines:
        total = total + line.price
    return total


# ---------------------------------------------------------------------------------------------
# Orders and entitlements of a buyer
# ---------------------------------------------------------------------------------------------


ORDER_TABS = ("all", "open", "paid", "cancelled")


def orders_for_organization(organization: Organization, *, tab: str = "all") -> QuerySet[Order]:
    """The organization's orders, newest first; `tab` (ORDER_TABS, as on the orders page) narrows them to the
    unpaid, the paid (delivered or not) or the cancelled and refunded ones."""
    orders = Order.objects.filter(buyer=organization).select_related("placed_by").prefetch_related("items")
    if tab == "open":
        return orders.filter(state__in=OPEN_ORDER_STATES)
    if tab == "paid":
        return orders.filter(state__in=[Order.State.PAID, Order.State.FULFILLED])
    if tab == "cancelled":
        return orders.filter(state__in=[Order.State.CANCELLED, Order.State.REFUNDED])
    return orders


ORDER_NUMBER = re.compile(r"[0-9A-Za-z-]{1,40}")


def order_get_for_buyer(*, organization: Organization | None, number: str) -> Order:
    """An order of the buyer's active organization; 404 for anyone else's (no hint that it exists), and for a
    "number" that cannot be one (a NUL byte would make PostgreSQL refuse the query)."""
    order = (
        Order.objects.filter(number=number, buyer=organization).select_related("buyer", "placed_by").first()
        if organization is not None and ORDER_NUMBER.fullmatch(number or "")
        else None
    )
    if order is None:
        raise Http404
    return order


def order_items(order: Order) -> QuerySet[OrderItem]:
    return order.items.select_related("dataset", "version", "seller", "entitlement").prefetch_related(
        Prefetch("acceptances", queryset=LicenceAcceptance.objects.select_related("user"))
    )


def entitlements_for_organization(organization: Organization) -> QuerySet[Entitlement]:
    """Everything the organization bought, newest first, with the packages built for it."""
    return (
        Entitlement.objects.filter(organization=organization)
        .select_related("dataset", "version", "order_item__order", "order_item__seller", "api_plan")
        .prefetch_related("packages__version")
    )


def entitlements_for_order(order: Order) -> QuerySet[Entitlement]:
    return (
        Entitlement.objects.filter(order_item__order=order)
        .select_related("dataset", "version", "order_item")
        .prefetch_related("packages__version")
    )


# ---------------------------------------------------------------------------------------------
# Delivery status: the one place that turns order, payment, entitlement and package states into what
# the buyer reads. The order page's header, its package list (and the fragment that refreshes both)
# and "My data" all show these, so they cannot contradict each other.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryStatus:
    """What to show for an order, an entitlement or one package.

    state: a small vocabulary (awaiting_payment, confirming, delivering, fulfilled, failed, cancelled,
    refunded, ended, none for orders and entitlements; queued, building, ready, failed, expired,
    revoked, ended for packages). label: the badge; tone: the KRDS badge class; title/text: the
    sentence under it; progress: 0-100 while something is built, else None; action: what the buyer
    can do (pay, download, retry, rebuild, or ""); live: whether it can still change without the
    buyer doing anything (the page polls while it is true)."""

    state: str
    label: str
    tone: str
    title: str = ""
    text: str = ""
    progress: int | None = None
    action: str = ""
    live: bool = False


@dataclass(frozen=True)
class PackageRow:
    package: Package
    status: DeliveryStatus


@dataclass(frozen=True)
class OrderDelivery:
    """The order page's header (`status`) and package list (`packages`), read together."""

    order: Order
    status: DeliveryStatus
    packages: list[PackageRow]

    @property
    def live(self) -> bool:
        return self.status.live or any(row.status.live for row in self.packages)

    @property
    def can_cancel(self) -> bool:
        """Unpaid, and no card payment being confirmed right now (the money may be on its way)."""
        return self.order.state in OPEN_ORDER_STATES and self.status.state != "confirming"

    @property
    def shows_packages(self) -> bool:
        return self.order.state in (Order.State.PAID, Order.State.FULFILLED)


@dataclass(frozen=True)
class EntitlementDelivery:
    """A row of "My data": the entitlement's own status and its packages, worded as on the order page."""

    entitlement: Entitlement
    status: DeliveryStatus
    packages: list[PackageRow]


TONE_SUCCESS, TONE_INFO, TONE_WARNING = "bg-light-success", "bg-light-information", "bg-light-warning"
TONE_DANGER, TONE_GRAY, TONE_PRIMARY = "bg-light-danger", "bg-light-gray", "bg-light-primary"


def _entitlement_ended(entitlement: Entitlement, now) -> str | None:
    if entitlement.revoked_at:
        return "revoked"
    if entitlement.valid_until and entitlement.valid_until <= now:
        return "ended"
    if entitlement.kind in API_OFFER_KINDS and _api_plan_over(entitlement):
        return "ended"  # an API plan cancelled by the buyer or replaced by another: no access through it
    return None


def _api_plan_over(entitlement: Entitlement) -> bool:
    try:
        plan = entitlement.api_plan
    except ApiPlan.DoesNotExist:
        return False  # a metered plan's monthly bill: nothing runs
    return plan.state != ApiPlan.State.ACTIVE


def package_delivery_status(package: Package, *, entitlement: Entitlement | None = None, now=None) -> DeliveryStatus:
    """One package as the buyer sees it, on the order page and in "My data" alike."""
    K = Package.State
    entitlement = entitlement or package.entitlement
    ended = _entitlement_ended(entitlement, now or timezone.now())
    if ended == "revoked":
        return DeliveryStatus(
            "revoked",
            _("Revoked (refunded)"),
            TONE_DANGER,
            text=_("This purchase was refunded: the package can no longer be downloaded."),
        )
    if ended == "ended":
        return DeliveryStatus(
            "ended",
            _("Ended"),
            TONE_GRAY,
            text=_("The subscription has ended: the package can no longer be downloaded."),
        )
    reason = error_parts(package.error)[0]
    if package.state == K.QUEUED:
        text = (
            _("An attempt failed (%(reason)s); it is tried again automatically.") % {"reason": reason}
            if reason
            else _("Waiting for a worker")
        )
        return DeliveryStatus("queued", _("Queued"), TONE_PRIMARY, text=text, progress=0, live=True)
    if package.state == K.BUILDING and package.lease_expired(now):
        # The worker stopped mid-build: the housekeeping restarts it within a minute or two, and the buyer
        # need not wait for it.
        return DeliveryStatus(
            "stalled",
            _("Interrupted"),
            TONE_WARNING,
            text=_(
                "The worker building this package stopped. It restarts by itself within a few minutes, or try again now."
            ),
            progress=max(0, min(100, package.progress or 0)),
            action="retry",
            live=True,
        )
    if package.state == K.BUILDING:
        percent = max(0, min(100, package.progress or 0))
        return DeliveryStatus(
            "building",
            _("Building %(percent)s%%") % {"percent": percent},
            TONE_PRIMARY,
            text=_("%(percent)s%% done") % {"percent": percent},
            progress=percent,
            live=True,
        )
    if package.state == K.READY:
        text = (
            _("Available until %(date)s")
            % {"date": date_format(timezone.localtime(package.expires_at), "SHORT_DATE_FORMAT")}
            if package.expires_at
            else ""
        )
        return DeliveryStatus("ready", _("Ready to download"), TONE_SUCCESS, text=text, action="download")
    if package.state == K.FAILED:
        return DeliveryStatus(
            "failed",
            _("Failed"),
            TONE_DANGER,
            title=reason or _("The package could not be built."),
            text=_("The platform admins have been told. You can try again."),
            action="retry",
        )
    if package.state == K.EXPIRED:
        return DeliveryStatus(
            "expired",
            _("Expired"),
            TONE_GRAY,
            text=_("Packages are deleted after a while. Build it again to download it."),
            action="rebuild",
        )
    return DeliveryStatus(package.state, package.get_state_display(), TONE_GRAY)


def _packages_status(rows: list[PackageRow], *, method: str = "") -> DeliveryStatus:
    """What a set of packages adds up to (an order's, or one entitlement's): a failure needs the buyer
    first, then anything still being built, then delivered."""
    states = [row.status.state for row in rows]
    live = any(row.status.live for row in rows)
    if "failed" in states:
        failed = states.count("failed")
        return DeliveryStatus(
            "failed",
            _("Package failed"),
            TONE_DANGER,
            title=ngettext("%(count)s package could not be built", "%(count)s packages could not be built", failed)
            % {"count": failed},
            text=_(
                "The reason is shown with the package. The platform admins have been told; you can try again with its button."
            ),
            action="retry",
            live=live,
        )
    if live:
        progress = sum(row.status.progress if row.status.progress is not None else 100 for row in rows) // len(rows)
        title = (
            _("Free order complete: the files are being packaged")
            if method == Order.Method.FREE
            else _("Paid: the files are being packaged")
        )
        return DeliveryStatus(
            "delivering",
            _("Preparing data"),
            TONE_INFO,
            title=title,
            text=_(
                "Each dataset is packed with its licence, a README, a datapackage.json and SHA-256 checksums. Download buttons appear below when a package is ready."
            ),
            progress=progress,
            live=True,
        )
    if rows and all(state in ("ended", "revoked") for state in states):
        return DeliveryStatus(
            "ended",
            _("Ended"),
            TONE_GRAY,
            title=_("Ended"),
            text=_("The subscription has ended: the package can no longer be downloaded."),
        )
    if not rows:
        return DeliveryStatus(
            "none",
            _("No files yet"),
            TONE_GRAY,
            title=_("No files yet"),
            text=_("Files appear here when the publisher publishes a version you are entitled to."),
        )
    if "expired" in states:
        return DeliveryStatus(
            "fulfilled",
            _("Delivered"),
            TONE_SUCCESS,
            title=_("Delivered: every package is ready"),
            text=_("Some packages have expired: build them again below to download them."),
            action="rebuild",
        )
    return DeliveryStatus(
        "fulfilled",
        _("Delivered"),
        TONE_SUCCESS,
        title=_("Delivered: every package is ready"),
        text=_("Download links expire after a while; open this page again for a fresh one."),
        action="download",
    )


def _payment_status(order: Order, payment_states: list[str]) -> DeliveryStatus:
    if Payment.State.CONFIRMING in payment_states:
        return DeliveryStatus(
            "confirming",
            _("Confirming payment"),
            TONE_WARNING,
            title=_("Confirming your payment with the card company"),
            text=_("This takes a few seconds; this page updates by itself."),
            live=True,
        )
    label = _("Awaiting payment")
    if order.method == Order.Method.CARD:
        title = _("Waiting for your card payment")
        text = (
            _("Pay by %(due)s; after that the order is cancelled automatically.")
            % {"due": date_format(timezone.localtime(order.payment_due_at), "DATETIME_FORMAT")}
            if order.payment_due_at
            else ""
        )
    elif order.method == Order.Method.BANK_TRANSFER:
        title = _("Waiting for your bank transfer")
        text = _(
            "A platform admin confirms the deposit, usually within one working day; the files are packaged then and you get an e-mail. An order not paid in time is cancelled automatically."
        )
    else:
        title, text = label, ""
    return DeliveryStatus("awaiting_payment", label, TONE_WARNING, title=title, text=text, action="pay")


def _package_rows(packages, entitlements: dict[int, Entitlement] | None = None) -> list[PackageRow]:
    now = timezone.now()
    return [
        PackageRow(p, package_delivery_status(p, entitlement=(entitlements or {}).get(p.entitlement_id), now=now))
        for p in packages
    ]


def package_rows(packages) -> list[PackageRow]:
    """Packages, each with its status worded as on the order page (their entitlements loaded with them)."""
    return _package_rows(packages)


def _order_packages(orders) -> QuerySet[Package]:
    return (
        Package.objects.filter(entitlement__order_item__order__in=orders)
        .select_related("version__dataset", "entitlement__order_item")
        .order_by("entitlement__order_item_id", "version__number", "id")
    )


def order_delivery_status(order: Order) -> OrderDelivery:
    """The order page's header and package list, from the order, its payments and its packages."""
    return _order_delivery(order, list(_order_packages([order])), list(order.payments.values_list("state", flat=True)))


def orders_with_status(orders) -> list[Order]:
    """The orders of a list page, each with `delivery_status`: the badge the order page's header shows
    (a paid order whose package failed says so in the list too). Two queries for the whole page."""
    orders = list(orders)
    packages, payment_states = defaultdict(list), defaultdict(list)
    for package in _order_packages(orders):
        packages[package.entitlement.order_item.order_id].append(package)
    for order_id, state in Payment.objects.filter(order__in=orders).values_list("order_id", "state"):
        payment_states[order_id].append(state)
    for order in orders:
        order.delivery_status = _order_delivery(order, packages[order.pk], payment_states[order.pk]).status
    return orders


def _order_delivery(order: Order, packages: list[Package], payment_states: list[str]) -> OrderDelivery:
    rows = _package_rows(packages)
    O = Order.State
    if order.state == O.CANCELLED:
        status = DeliveryStatus(
            "cancelled",
            _("Cancelled"),
            TONE_GRAY,
            title=_("Cancelled"),
            text=(
                _("Cancelled on %(date)s: %(reason)s")
                % {
                    "date": date_format(timezone.localtime(order.cancelled_at), "DATETIME_FORMAT"),
                    "reason": order.cancel_reason,
                }
                if order.cancelled_at
                else order.cancel_reason
            ),
        )
    elif order.state == O.REFUNDED:
        status = DeliveryStatus(
            "refunded",
            _("Refunded"),
            TONE_DANGER,
            title=_("Refunded"),
            text=(_("%(amount)s won were refunded.") % {"amount": f"{order.refunded_krw:,}"}),
        )
    elif order.state in OPEN_ORDER_STATES:
        status = _payment_status(order, payment_states)
    elif order.state in (O.PAID, O.FULFILLED) and not rows and _api_only(order):
        status = API_STATUS
    elif order.state in (O.PAID, O.FULFILLED):
        status = _packages_status(rows, method=order.method)
    else:
        status = DeliveryStatus(order.state, order.get_state_display(), TONE_GRAY)
    return OrderDelivery(order=order, status=status, packages=rows)


# API plans (issue 16) and metered plans' bills: nothing to package; read through the data API.
API_STATUS = DeliveryStatus(
    "api",
    gettext_lazy("Data API"),
    TONE_SUCCESS,
    title=gettext_lazy("Read through the data API: no files to download"),
    text=gettext_lazy(
        "This is an API plan (or a metered plan's monthly bill): the data is read through the data API with a key of "
        "the data scope. Its calls and quota are on the API usage page."
    ),
)


def _api_only(order: Order) -> bool:
    items = list(order.items.all())
    return bool(items) and all(item.kind in API_OFFER_KINDS for item in items)


def entitlement_delivery_status(entitlement: Entitlement, packages=None) -> EntitlementDelivery:
    """A row of "My data": refunded or ended first, else what its packages add up to (as on the order page)."""
    if packages is None:
        packages = entitlement.packages.select_related("version").order_by("version__number", "id")
    rows = _package_rows(sorted(packages, key=lambda p: (p.version.number, p.pk)), {entitlement.pk: entitlement})
    ended = _entitlement_ended(entitlement, timezone.now())
    if ended == "revoked":
        status = DeliveryStatus("refunded", _("Revoked (refunded)"), TONE_DANGER)
    elif ended == "ended":
        status = DeliveryStatus("ended", _("Ended"), TONE_GRAY)
    elif entitlement.kind in API_OFFER_KINDS:
        status = API_STATUS
    else:
        status = _packages_status(rows, method=entitlement.order_item.order.method)
    return EntitlementDelivery(entitlement=entitlement, status=status, packages=rows)


def my_data(organization: Organization) -> list[EntitlementDelivery]:
    """ "My data": every entitlement of the organization with its delivery status."""
    return [entitlement_delivery_status(e, list(e.packages.all())) for e in entitlements_for_organization(organization)]


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
    """The order's whole trail: the order's own rows, and those of its payments, packages, refunds, refund requests
    and entitlements (each change is audited on the object that changed)."""
    payments = [str(pk) for pk in order.payments.values_list("pk", flat=True)]
    packages = [
        str(pk) for pk in Package.objects.filter(entitlement__order_item__order=order).values_list("pk", flat=True)
    ]
    refunds = [str(pk) for pk in order.refunds.values_list("pk", flat=True)]
    requests = [str(pk) for pk in order.refund_requests.values_list("pk", flat=True)]
    entitlements = [str(pk) for pk in Entitlement.objects.filter(order_item__order=order).values_list("pk", flat=True)]
    return (
        AuditEvent.objects.filter(
            Q(object_type="order", object_id=str(order.pk))
            | Q(object_type="payment", object_id__in=payments)
            | Q(object_type="package", object_id__in=packages)
            | Q(object_type="refund", object_id__in=refunds)
            | Q(object_type="refundrequest", object_id__in=requests)
            | Q(object_type="entitlement", object_id__in=entitlements)
        )
        .select_related("actor")
        .order_by("created_at", "id")
    )


def order_buyers() -> QuerySet[Organization]:
    """Organizations that have placed at least one order (the admin list's buyer filter)."""
    return Organization.objects.filter(orders__isnull=False).distinct().order_by("name_ko")


# ---------------------------------------------------------------------------------------------
# Subscriptions (transactions.services.subscriptions)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Renewal:
    """What renewing a subscription would buy now: the offer (None when the dataset is no longer offered by
    subscription), its price today, what the last period cost, a note when either changed, and why it cannot
    be bought right now (renewal not open yet, already renewed, the dataset suspended...)."""

    offer: Offer | None
    price: Price | None
    previous_total_krw: int | None
    note: str
    problem: str | None

    @property
    def possible(self) -> bool:
        return self.offer is not None and not self.problem


def _last_period_item(subscription) -> OrderItem | None:
    return (
        OrderItem.objects.filter(entitlement__subscription=subscription)
        .order_by("-entitlement__valid_until", "-id")
        .first()
    )


def renewal_offer(subscription, organization: Organization) -> Renewal:
    """The offer a renewal buys: the one paid for last while the publisher still offers it (at today's price),
    else the publisher's current subscription offer of the dataset (the note says the offer changed), else none."""
    visible = [o for o in offers_visible_to(subscription.dataset, organization) if o.kind == Offer.Kind.SUBSCRIPTION]
    last = _last_period_item(subscription)
    previous = int(last.total_krw) if last else None
    offer = next((o for o in visible if o.pk == subscription.offer_id), None)
    note = ""
    if offer is None and not visible:
        return Renewal(
            None,
            None,
            previous,
            gettext_lazy("The publisher no longer offers this dataset by subscription, so it cannot be renewed."),
            None,
        )
    if offer is None:
        days = last.subscription_days if last else None
        offer = sorted(visible, key=lambda o: (o.subscription_days != days, o.price_krw, o.pk))[0]
        price = offer_price(offer)
        note = lazy_percent(
            gettext_lazy(
                "The offer you subscribed to is no longer available. Renewing buys the publisher's current "
                "subscription offer: %(days)s days for %(amount)s won."
            ),
            {"days": offer.subscription_days, "amount": f"{price.total_krw:,}"},
        )
    else:
        price = offer_price(offer)
        if previous is not None and price.total_krw != previous:
            note = lazy_percent(
                gettext_lazy(
                    "The price changed: renewing costs %(new)s won (your last period cost %(old)s won). "
                    "Orders already placed keep their own price and terms."
                ),
                {"new": f"{price.total_krw:,}", "old": f"{previous:,}"},
            )
    return Renewal(offer, price, previous, note, purchase_problem(offer, organization))


@dataclass(frozen=True)
class SubscriptionRow:
    """A row of the buyer's subscriptions page."""

    subscription: object
    current: Entitlement | None  # the period running now
    ahead: Entitlement | None  # a period already paid that starts when the current one ends
    last: Entitlement | None  # the latest period (its end is the renewal date)
    renewal: Renewal
    renew_opens_at: object  # when renewal opens (SUBSCRIPTION_REMINDER_DAYS before the last period ends)

    @property
    def renews_on(self):
        return self.last.valid_until if self.last else None


def _subscription_row(subscription, organization: Organization, now) -> SubscriptionRow:
    periods = [p for p in subscription.periods.all() if p.revoked_at is None]
    current = next((p for p in periods if p.valid_from <= now < p.valid_until), None)
    ahead = next((p for p in periods if p.valid_from > now), None)
    last = max(periods, key=lambda p: p.valid_until, default=None)
    opens = last.valid_until - timedelta(days=settings.SUBSCRIPTION_REMINDER_DAYS) if last else None
    return SubscriptionRow(subscription, current, ahead, last, renewal_offer(subscription, organization), opens)


def _subscriptions(organization: Organization):
    return (
        Subscription.objects.filter(organization=organization)
        .select_related("dataset", "offer", "cancelled_by")
        .prefetch_related(
            Prefetch(
                "periods",
                queryset=Entitlement.objects.select_related("order_item__order").order_by("valid_from", "id"),
            )
        )
    )


def subscriptions_for_organization(organization: Organization) -> list[SubscriptionRow]:
    """The organization's subscriptions (running first, then ended), each with its periods and renewal."""
    now = timezone.now()
    rows = [_subscription_row(s, organization, now) for s in _subscriptions(organization)]
    return sorted(rows, key=lambda r: (r.subscription.state == "ended", -(r.renews_on or now).timestamp()))


def subscription_get_for_buyer(*, organization: Organization | None, pk: int) -> SubscriptionRow:
    """One subscription of the buyer's organization; 404 for anyone else's."""
    subscription = _subscriptions(organization).filter(pk=pk).first() if organization is not None else None
    if subscription is None:
        raise Http404
    return _subscription_row(subscription, organization, timezone.now())


@dataclass(frozen=True)
class DeliveredVersion:
    version: DatasetVersion
    row: PackageRow


@dataclass(frozen=True)
class OrderSubscription:
    """A subscription line of an order: its period and the versions delivered in it, newest first."""

    item: OrderItem
    entitlement: Entitlement
    versions: list[DeliveredVersion]


def order_subscriptions(order: Order) -> list[OrderSubscription]:
    """The subscription lines of a paid order with every version delivered to their period (the package of each,
    its status as on the order page, and the version's change note)."""
    entitlements = (
        Entitlement.objects.filter(order_item__order=order, kind=Offer.Kind.SUBSCRIPTION)
        .select_related("order_item", "subscription", "dataset")
        .prefetch_related(
            Prefetch(
                "packages",
                queryset=Package.objects.select_related("version").order_by("-version__number", "-id"),
            )
        )
    )
    now = timezone.now()
    result = []
    for entitlement in entitlements:
        versions = [
            DeliveredVersion(p.version, PackageRow(p, package_delivery_status(p, entitlement=entitlement, now=now)))
            for p in entitlement.packages.all()
        ]
        result.append(OrderSubscription(entitlement.order_item, entitlement, versions))
    return result
