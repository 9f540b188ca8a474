"""Reads for the payment pages (the order page's payment list is transactions.selectors.order_payments)."""

from django.shortcuts import get_object_or_404

from transactions.models import Order, Payment

P = Payment.State


def bank_transfers_waiting():
    """Bank transfers the buyers chose and an admin has not confirmed, the nearest deadline first."""
    return (
        Payment.objects.filter(
            method=Order.Method.BANK_TRANSFER, state=P.READY, order__state=Order.State.AWAITING_PAYMENT
        )
        .select_related("order", "order__buyer", "order__placed_by")
        .order_by("order__payment_due_at", "id")
    )


def bank_transfers_confirmed(limit: int = 20):
    return (
        Payment.objects.filter(method=Order.Method.BANK_TRANSFER, state=P.DONE)
        .select_related("order", "order__buyer", "confirmed_by")
        .order_by("-approved_at", "-id")[:limit]
    )


def bank_transfer_get(pk: int) -> Payment:
    """A bank-transfer payment, for the admin who confirms it (the caller checks the admin); 404 for any other."""
    return get_object_or_404(
        Payment.objects.select_related("order", "order__buyer", "order__placed_by", "confirmed_by"),
        pk=pk,
        method=Order.Method.BANK_TRANSFER,
    )
