"""{% order_voucher_use order as use %}: the voucher part of an order, for templates/transactions/_order_voucher.html."""

from django import template

from transactions.vouchers import selectors

register = template.Library()


@register.simple_tag
def order_voucher_use(order):
    return selectors.order_voucher_use(order) if order is not None and order.voucher_krw else None
