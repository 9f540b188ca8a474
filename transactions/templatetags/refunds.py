"""The refunds sections of the order pages (templates/transactions/_order_refunds.html for the buyer,
templates/staff/_order_refunds.html for the admins) read their data here, so the order views stay as they are."""

from django import template

from transactions.refunds import forms, selectors

register = template.Library()


@register.simple_tag
def buyer_refund_panel(order):
    """The refunds section of the buyer's order page: history, and the request form when the policy allows."""
    panel = selectors.buyer_panel(order)
    return {"panel": panel, "form": forms.RefundRequestForm(panel=panel)}


@register.simple_tag
def staff_refund_panel(order):
    """The refunds section of the admin's order page: history, requests, and the refund form."""
    panel = selectors.staff_panel(order)
    return {"panel": panel, "form": forms.RefundCreateForm(panel=panel)}
