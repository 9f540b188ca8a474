"""Reads for the refund pages: the order page's refunds section (buyer and admin) and the admins' queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from transactions import ledger
from transactions.models import Order, OrderItem, Refund, RefundLine, RefundRequest
from transactions.refunds import policy

R, RQ = Refund.State, RefundRequest.State


def _refunds() -> QuerySet[Refund]:
    return Refund.objects.select_related(
        "order", "order__buyer", "payment", "created_by", "requested_by", "confirmed_by", "request"
    ).prefetch_related(Prefetch("lines", queryset=RefundLine.objects.select_related("order_item")))


def _requests() -> QuerySet[RefundRequest]:
    return RefundRequest.objects.select_related("order", "order__buyer", "requested_by", "decided_by").prefetch_related(
        "items"
    )


def order_refunds(order: Order) -> list[Refund]:
    return list(_refunds().filter(order=order).order_by("created_at", "id"))


def order_refund_requests(order: Order) -> list[RefundRequest]:
    return list(_requests().filter(order=order).order_by("created_at", "id"))


def _voucher_of_left(item: OrderItem, held: dict[int, int], held_voucher: dict[int, int]) -> int:
    """Of what is left of a line, the voucher's share if it is refunded in full (the rest goes back through the
    payment): the split transactions.refunds.services._plan makes (ledger.voucher_share)."""
    before = held.get(item.pk, 0)
    return ledger.voucher_share(
        total_krw=item.total_krw,
        voucher_krw=item.voucher_krw,
        before_krw=before,
        voucher_before_krw=held_voucher.get(item.pk, 0),
        amount_krw=max(item.total_krw - before, 0),
    )


@dataclass(frozen=True)
class LineChoice:
    item: OrderItem
    left_krw: int  # what is left to refund of it (refunds not failed subtracted)
    problems: dict  # request kind → why the buyer may not ask (None: may)
    voucher_left_krw: int = 0  # of it, what a full refund gives back to the data voucher

    @property
    def own_left_krw(self) -> int:
        return self.left_krw - self.voucher_left_krw

    @property
    def requestable(self) -> bool:
        return any(problem is None for problem in self.problems.values())


@dataclass(frozen=True)
class BuyerPanel:
    refunds: list
    requests: list
    lines: list  # LineChoice of the paid lines
    open_request: RefundRequest | None
    can_request: bool
    bank: bool  # a bank-transfer order: the request names the account to pay back to
    window_days: int
    defect_days: int


def buyer_panel(order: Order) -> BuyerPanel:
    """What the buyer's refunds section shows: the history, and the request form when the policy allows one."""
    requests = order_refund_requests(order)
    items = list(order.items.all())
    held, held_voucher = policy.committed(items), policy.committed_voucher(items)
    problems = policy.requestable(order)
    lines = [
        LineChoice(item, policy.remaining(item, held), problems[item.pk], _voucher_of_left(item, held, held_voucher))
        for item in items
        if item.total_krw
    ]
    open_request = next((r for r in requests if r.state == RQ.REQUESTED), None)
    return BuyerPanel(
        refunds=order_refunds(order),
        requests=requests,
        lines=lines,
        open_request=open_request,
        can_request=open_request is None and any(line.requestable for line in lines),
        bank=order.method == Order.Method.BANK_TRANSFER,
        window_days=settings.REFUND_WINDOW_DAYS,
        defect_days=settings.REFUND_DEFECT_DAYS,
    )


@dataclass(frozen=True)
class StaffPanel:
    refunds: list
    requests: list
    lines: list  # (item, left_krw, voucher_left_krw) of the paid lines: what is left, and the voucher's share of it
    refundable: bool
    bank: bool

    @property
    def voucher_left_krw(self) -> int:
        """Refunding everything left gives this back to the data voucher ..."""
        return sum(voucher for _item, _left, voucher in self.lines)

    @property
    def own_left_krw(self) -> int:
        """... and this back through the payment (card cancel or bank transfer)."""
        return sum(left - voucher for _item, left, voucher in self.lines)


def staff_panel(order: Order) -> StaffPanel:
    items = [item for item in order.items.all() if item.total_krw]
    held, held_voucher = policy.committed(items), policy.committed_voucher(items)
    lines = [(item, policy.remaining(item, held), _voucher_of_left(item, held, held_voucher)) for item in items]
    return StaffPanel(
        refunds=order_refunds(order),
        requests=order_refund_requests(order),
        lines=lines,
        refundable=order.state in policy.REFUNDABLE_ORDER_STATES
        and order.payments.filter(state__in=("done", "partially_refunded")).exists()
        and any(left > 0 for _item, left, _voucher in lines),
        bank=order.method == Order.Method.BANK_TRANSFER,
    )


@dataclass(frozen=True)
class Queue:
    requests: list  # buyers' requests to decide
    bank_to_confirm: list  # bank-transfer refunds waiting for the transfer
    transmitted: list  # card refunds sent, no answer yet (the reconciliation retries them)
    failed: list  # refused by the PG (or withdrawn), last 30 days
    done: list  # done, last 30 days


def staff_queue() -> Queue:
    since = timezone.now() - timedelta(days=30)
    return Queue(
        requests=list(_requests().filter(state=RQ.REQUESTED).order_by("created_at", "id")),
        bank_to_confirm=list(
            _refunds().filter(state=R.CREATED, payment__method=Order.Method.BANK_TRANSFER).order_by("created_at", "id")
        ),
        transmitted=list(
            _refunds()
            .filter(state__in=(R.TRANSMITTED, R.CREATED), payment__method=Order.Method.CARD)
            .order_by("created_at", "id")
        ),
        failed=list(_refunds().filter(state=R.FAILED, created_at__gte=since).order_by("-created_at", "-id")[:50]),
        done=list(_refunds().filter(state=R.DONE, done_at__gte=since).order_by("-done_at", "-id")[:50]),
    )


def refund_get(pk: int) -> Refund:
    return get_object_or_404(_refunds(), pk=pk)


def request_get(pk: int) -> RefundRequest:
    return get_object_or_404(_requests(), pk=pk)
