"""Platform admin pages of purchases: every order with filters, and one order with its lines, payments,
gateway events, entitlements and audit trail. Read-only; decisions (bank-transfer confirmation, package
retries, refunds) live on their own pages and services."""

from django.core.paginator import Paginator
from django.shortcuts import render

from accounts.decorators import staff_required
from transactions import selectors
from transactions.filters import OrderFilter
from transactions.models import Order


@staff_required
def orders(request):
    filterset = OrderFilter(request.GET or None, queryset=selectors.orders_for_staff())
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    page.object_list = selectors.orders_with_status(page.object_list)
    counts = {
        state: Order.objects.filter(state=state).count() for state in (Order.State.AWAITING_PAYMENT, Order.State.PAID)
    }
    return render(request, "staff/orders.html", {"filter": filterset, "page": page, "counts": counts})


@staff_required
def order(request, number):
    order = selectors.orders_with_status([selectors.order_get_for_staff(number)])[0]
    return render(
        request,
        "staff/order.html",
        {
            "order": order,
            "items": selectors.order_items(order),
            "payments": selectors.order_payments(order),
            "events": selectors.order_payment_events(order),
            "audit_events": selectors.order_audit_events(order),
            "entitlements": selectors.entitlements_for_order(order),
        },
    )
