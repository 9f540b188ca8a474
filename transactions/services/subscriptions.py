"""The life of a subscription: its periods chain, the buyer is reminded before the last one ends, renews
by paying a new order, or turns renewal off; periods past their end are ended on time.

- A subscription is one `Subscription` per (organization, dataset); each paid period is the Entitlement of
  one order line (`Subscription.periods`). `period_for_paid_item` (called by order_mark_paid) chains a new
  period to the end of the last one still running, so a renewal paid before the end leaves no gap and no
  overlap; one paid after the end starts when it is paid.
- Renewal is a NEW order at the price in force then, placed by the buyer through the cart and checkout
  (`subscription_renew_start` puts the offer in the cart): the buyer sees the current licence and price and
  accepts them; the old order keeps its own terms. Nothing is charged automatically: that would need a
  stored card (a PG billing key), which the platform does not hold.
- `subscription_cancel` turns renewal off (the periods paid run to their end, no reminder);
  `subscription_resume` turns it back on.
- Beat: `subscriptions_remind` e-mails the buyer SUBSCRIPTION_REMINDER_DAYS before the last period ends, and
  `subscriptions_expire` ends periods past their end (packages expired, the buyer told). Each e-mail is a
  `SubscriptionNotice` row written in the transaction that sends it; its unique constraints make it once per
  period (and per version for a new version's package), however often or concurrently the tasks run.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import selectors as account_selectors
from accounts.models import Membership
from accounts.permissions import can
from catalog.models import DatasetVersion, Offer
from core.audit import audit
from core.errors import DomainError, NotAllowed
from core.notify import email_on_commit, site_url
from core.transitions import transition
from transactions import selectors
from transactions.models import Entitlement, OrderItem, Package, Subscription, SubscriptionNotice
from transactions.services import cart as cart_services

logger = logging.getLogger(__name__)

S = Subscription.State
N = SubscriptionNotice.Kind


def _running_periods(subscription: Subscription, now):
    """The subscription's periods not refunded, not ended and not over yet (the current one and any paid ahead)."""
    return subscription.periods.filter(revoked_at__isnull=True, ended_at__isnull=True, valid_until__gt=now)


def period_for_paid_item(*, item: OrderItem, now) -> tuple[Subscription, object, object]:
    """The subscription a paid subscription line adds a period to, and that period's (valid_from, valid_until).

    Called by order_mark_paid inside its transaction. The subscription row is locked, so two renewals paid at
    once chain one after the other. The new period starts when the last running one ends (a renewal paid
    before the end: no gap, no overlap), or now when none runs. A cancelled or ended subscription is active
    again: paying is asking for it to go on."""
    subscription, _created = Subscription.objects.get_or_create(
        organization_id=item.order.buyer_id, dataset_id=item.dataset_id
    )
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    last_end = max(_running_periods(subscription, now).values_list("valid_until", flat=True), default=None)
    # Periods sold before subscriptions had a record and not attached by the migration: none, but be safe.
    legacy = Entitlement.objects.filter(
        organization_id=item.order.buyer_id,
        dataset_id=item.dataset_id,
        kind=Offer.Kind.SUBSCRIPTION,
        subscription__isnull=True,
        revoked_at__isnull=True,
        ended_at__isnull=True,
        valid_until__gt=now,
    ).values_list("valid_until", flat=True)
    last_end = max([end for end in (last_end, *legacy) if end is not None], default=None)
    valid_from = last_end if last_end and last_end > now else now
    valid_until = valid_from + timedelta(days=item.subscription_days)
    fields = []
    if item.offer_id and subscription.offer_id != item.offer_id:
        subscription.offer_id = item.offer_id
        fields.append("offer")
    if subscription.state != S.ACTIVE:
        subscription.cancelled_at = None
        subscription.cancelled_by = None
        transition(
            subscription,
            to=S.ACTIVE,
            actor=item.order.placed_by,
            fields=(*fields, "cancelled_at", "cancelled_by"),
            action="subscription.renewed",
            data={"order": item.order.number, "valid_from": valid_from.isoformat()},
        )
    elif fields:
        subscription.save(update_fields=[*fields, "updated_at"])
    return subscription, valid_from, valid_until


def _require_buyer(actor, subscription: Subscription) -> None:
    if not can(actor, "accounts.buy_for_org", subscription.organization):
        raise NotAllowed(_("Only a buyer of the organization that subscribed can change its subscription."))


@transaction.atomic
def subscription_cancel(*, actor, subscription: Subscription) -> Subscription:
    """The buyer turns renewal off: no reminder, and the subscription ends with the last period paid, which
    runs to its end (nothing is refunded or cut short). Idempotent; an ended subscription is returned as it is."""
    subscription = (
        Subscription.objects.select_for_update(of=("self",)).select_related("organization").get(pk=subscription.pk)
    )
    _require_buyer(actor, subscription)
    if subscription.state != S.ACTIVE:
        return subscription
    subscription.cancelled_at = timezone.now()
    subscription.cancelled_by = actor
    until = max(
        _running_periods(subscription, subscription.cancelled_at).values_list("valid_until", flat=True), default=None
    )
    transition(
        subscription,
        to=S.CANCELLED,
        actor=actor,
        fields=("cancelled_at", "cancelled_by"),
        data={"dataset": subscription.dataset_id, "until": until.isoformat() if until else None},
    )
    return subscription


@transaction.atomic
def subscription_resume(*, actor, subscription: Subscription) -> Subscription:
    """The buyer turns renewal back on while a period still runs (reminded again before it ends). Idempotent;
    an ended subscription is renewed by buying it again instead (DomainError)."""
    subscription = (
        Subscription.objects.select_for_update(of=("self",)).select_related("organization").get(pk=subscription.pk)
    )
    _require_buyer(actor, subscription)
    if subscription.state == S.ACTIVE:
        return subscription
    if subscription.state == S.ENDED or not _running_periods(subscription, timezone.now()).exists():
        raise DomainError(
            _("This subscription has ended: subscribe again from the dataset page."), code="subscription_ended"
        )
    subscription.cancelled_at = None
    subscription.cancelled_by = None
    transition(subscription, to=S.ACTIVE, actor=actor, fields=("cancelled_at", "cancelled_by"))
    return subscription


def subscription_renew_start(*, actor, organization, subscription: Subscription) -> Offer:
    """The buyer asks to renew: the offer to renew at (selectors.renewal_offer: the one paid for last, or the
    publisher's current subscription offer when that one is gone) goes into the cart, and the view continues to
    checkout, where the buyer sees today's price and licence and pays (a new order; the old one keeps its terms).
    Raises DomainError when the dataset is no longer offered by subscription or renewal is not open yet."""
    if organization is None or subscription.organization_id != organization.pk:
        raise NotAllowed(_("Only a buyer of the organization that subscribed can change its subscription."))
    cart_services.require_buyer(actor, organization)
    renewal = selectors.renewal_offer(subscription, organization)
    if renewal.offer is None:
        raise DomainError(renewal.note, code="renewal_unavailable")
    cart_services.cart_add(actor=actor, organization=organization, offer=renewal.offer)
    return renewal.offer


# --- Notices (e-mails sent once) ------------------------------------------------------------------------------


def notice_claim(*, entitlement: Entitlement, kind: str, version: DatasetVersion | None = None) -> bool:
    """Record that the notice `kind` (about `version`) of this period is being sent: True for the one caller that
    records it, False when it was recorded before (or by a concurrent caller, which this one waits for). Call in the
    transaction that sends the e-mail (after commit), so the row and the e-mail go together."""
    try:
        with transaction.atomic():
            SubscriptionNotice.objects.create(entitlement=entitlement, kind=kind, version=version)
    except IntegrityError:
        return False
    return True


def _recipients(entitlement: Entitlement) -> list[str]:
    members = account_selectors.member_emails(entitlement.organization, Membership.Role.OWNER, Membership.Role.BUYER)
    order = entitlement.order_item.order
    return list(dict.fromkeys([*members, order.placed_by.email]))


def _subscriptions_url() -> str:
    return site_url(reverse("transactions:subscriptions"))


# --- Beat: reminders and expiry ---------------------------------------------------------------------------------


def subscriptions_remind(*, now=None, limit: int = 500) -> int:
    """E-mail each active subscription's buyers once, SUBSCRIPTION_REMINDER_DAYS before its last paid period
    ends (renewed ahead or cancelled: no reminder). Safe to run twice or concurrently: the notice row decides.
    Returns how many reminders were sent."""
    now = now or timezone.now()
    horizon = now + timedelta(days=settings.SUBSCRIPTION_REMINDER_DAYS)
    later = Entitlement.objects.filter(
        subscription=OuterRef("subscription"), revoked_at__isnull=True, valid_until__gt=OuterRef("valid_until")
    )
    due = (
        Entitlement.objects.filter(
            subscription__state=S.ACTIVE,
            revoked_at__isnull=True,
            ended_at__isnull=True,
            valid_from__lte=now,
            valid_until__gt=now,
            valid_until__lte=horizon,
        )
        .exclude(Exists(later))
        .exclude(Exists(SubscriptionNotice.objects.filter(entitlement=OuterRef("pk"), kind=N.REMINDER)))
        .select_related("organization", "dataset", "subscription", "order_item__order__placed_by")
    )
    sent = 0
    for entitlement in list(due[:limit]):
        with transaction.atomic():
            if not notice_claim(entitlement=entitlement, kind=N.REMINDER):
                continue
            renewal = selectors.renewal_offer(entitlement.subscription, entitlement.organization)
            email_on_commit(
                to=_recipients(entitlement),
                template="email/subscription_reminder",
                context={
                    "entitlement": entitlement,
                    "dataset": str(entitlement.dataset),
                    "renewal": renewal,
                    "url": _subscriptions_url(),
                },
            )
            audit(
                actor=None,
                action="subscription.reminded",
                obj=entitlement.subscription,
                organization_id=entitlement.organization_id,
                data={"entitlement": entitlement.pk, "valid_until": entitlement.valid_until.isoformat()},
            )
            sent += 1
    return sent


def subscriptions_expire(*, now=None, limit: int = 500) -> int:
    """End the subscription periods past their end (valid_until): mark them ended, expire their packages (the
    ZIPs are deleted after commit: downloads and signed links already stopped at valid_until), and, when no
    renewed period follows, end the subscription and e-mail the buyers once. Each period is locked on its own
    and skipped while something else holds it; safe to run twice or concurrently. Returns how many ended."""
    now = now or timezone.now()
    due = Entitlement.objects.filter(
        kind=Offer.Kind.SUBSCRIPTION, ended_at__isnull=True, revoked_at__isnull=True, valid_until__lte=now
    )
    ended = 0
    for pk in list(due.values_list("pk", flat=True)[:limit]):
        with transaction.atomic():
            entitlement = (
                due.select_for_update(skip_locked=True, of=("self",))
                .select_related("organization", "dataset", "order_item__order__placed_by")
                .filter(pk=pk)
                .first()
            )
            if entitlement is None:
                continue
            _end_period(entitlement, now)
            ended += 1
    return ended


def _end_period(entitlement: Entitlement, now) -> None:
    entitlement.ended_at = now
    entitlement.save(update_fields=["ended_at"])
    audit(
        actor=None,
        action="entitlement.ended",
        obj=entitlement,
        organization_id=entitlement.organization_id,
        data={"valid_until": entitlement.valid_until.isoformat(), "order": entitlement.order_item.order.number},
    )
    # Function-level: transactions.delivery.services imports this module (version_ready_notice).
    from transactions.delivery.services import ended_reason, package_end_unbuilt

    unbuilt = Package.objects.select_for_update().filter(
        entitlement=entitlement, state__in=[Package.State.QUEUED, Package.State.BUILDING]
    )
    for package in unbuilt:  # not built for a period that is over (a worker building one stops)
        package_end_unbuilt(package, ended_reason(entitlement))
    for package in Package.objects.select_for_update().filter(entitlement=entitlement, state=Package.State.READY):
        name = package.file.name
        package.file.name = ""
        transition(package, to=Package.State.EXPIRED, actor=None, fields=("file",), reason="subscription ended")
        if name:
            transaction.on_commit(lambda name=name: default_storage.delete(name), robust=True)
    subscription = (
        Subscription.objects.select_for_update().filter(pk=entitlement.subscription_id).first()
        if entitlement.subscription_id
        else None
    )
    if subscription is not None and _running_periods(subscription, now).exists():
        return  # renewed: the next period goes on, nothing to tell
    if subscription is not None and subscription.state != S.ENDED:
        transition(subscription, to=S.ENDED, actor=None, data={"entitlement": entitlement.pk})
    if notice_claim(entitlement=entitlement, kind=N.ENDED):
        renewal = selectors.renewal_offer(subscription, entitlement.organization) if subscription else None
        email_on_commit(
            to=_recipients(entitlement),
            template="email/subscription_ended",
            context={
                "entitlement": entitlement,
                "dataset": str(entitlement.dataset),
                "renewal": renewal,
                "url": _subscriptions_url(),
            },
        )


def subscription_period_refunded(*, entitlement: Entitlement, actor, now=None) -> None:
    """A refund revoked one of the subscription's periods (inside the refund's transaction): the subscription ends
    at once when no other period runs (a refunded subscription is not renewed or reminded)."""
    if not entitlement.subscription_id:
        return
    now = now or timezone.now()
    subscription = Subscription.objects.select_for_update().get(pk=entitlement.subscription_id)
    if subscription.state != S.ENDED and not _running_periods(subscription, now).exists():
        transition(subscription, to=S.ENDED, actor=actor, data={"entitlement": entitlement.pk, "refunded": True})


def version_ready_notice(package: Package) -> bool:
    """Whether to e-mail the buyers that `package` (of a subscription, just ready) holds a new version: once per
    period and version (a rebuild after expiry, a second delivery run, a concurrent build: no second e-mail), and
    only for a version that came after the period's first package (that one was announced by the order's
    payment e-mail). Call inside the transaction that marks it ready."""
    entitlement = package.entitlement
    if entitlement.kind != Offer.Kind.SUBSCRIPTION:
        return False
    earlier = Package.objects.filter(entitlement=entitlement, version__number__lt=package.version.number).exists()
    if not earlier:
        return False
    return notice_claim(entitlement=entitlement, kind=N.VERSION_READY, version=package.version)
