"""The order page's subscription section (templates/transactions/_order_subscription.html) reads its rows here,
so the order view stays as it is."""

from django import template

from transactions import selectors

register = template.Library()


@register.simple_tag
def order_subscriptions(order):
    """The subscription lines of `order` with the versions delivered to their period (selectors.order_subscriptions);
    nothing for an order not paid."""
    if order.state not in ("paid", "fulfilled", "refunded"):
        return []
    return selectors.order_subscriptions(order)
