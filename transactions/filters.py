"""Filters of the admin order list (and, later, the orders API)."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy, pgettext_lazy

from accounts.models import Organization
from transactions.models import Order


class OrderFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(
        label=gettext_lazy("State"), choices=Order.State.choices, empty_label=gettext_lazy("Any state")
    )
    method = django_filters.ChoiceFilter(
        label=gettext_lazy("Payment method"), choices=Order.Method.choices, empty_label=gettext_lazy("Any method")
    )
    buyer = django_filters.ModelChoiceFilter(
        label=gettext_lazy("Buyer"),
        queryset=Organization.objects.filter(orders__isnull=False).distinct().order_by("name_ko"),
        empty_label=gettext_lazy("Any buyer"),
    )
    q = django_filters.CharFilter(label=gettext_lazy("Order number or dataset"), method="filter_q")
    date_from = django_filters.DateFilter(
        label=pgettext_lazy("date range", "From"), field_name="created_at", lookup_expr="date__gte"
    )
    date_to = django_filters.DateFilter(
        label=pgettext_lazy("date range", "To"), field_name="created_at", lookup_expr="date__lte"
    )

    class Meta:
        model = Order
        fields = []

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return (
            queryset.filter(Q(number__icontains=value) | Q(items__title__icontains=value)).distinct()
            if value
            else queryset
        )
