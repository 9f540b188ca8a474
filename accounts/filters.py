"""Filters of the platform admin's lists, shared by the staff pages and the admin API."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy, pgettext_lazy

from core.models import AuditEvent


class AuditFilter(django_filters.FilterSet):
    """The audit trail's filters (/staff/audit/ and GET /api/v1/admin/audit/)."""

    action = django_filters.CharFilter(label=gettext_lazy("Action"), lookup_expr="startswith")
    actor = django_filters.CharFilter(
        label=gettext_lazy("Actor (e-mail)"), field_name="actor__email", lookup_expr="icontains"
    )
    dataset = django_filters.CharFilter(label=gettext_lazy("Dataset"), method="filter_dataset")
    organization = django_filters.CharFilter(
        label=gettext_lazy("Organization"), field_name="organization__name_ko", lookup_expr="icontains"
    )
    date_from = django_filters.DateFilter(
        label=pgettext_lazy("date range", "From"), field_name="created_at", lookup_expr="date__gte"
    )
    date_to = django_filters.DateFilter(
        label=pgettext_lazy("date range", "To"), field_name="created_at", lookup_expr="date__lte"
    )

    class Meta:
        model = AuditEvent
        fields = []

    def filter_dataset(self, queryset, name, value):
        """By dataset title (as recorded) or short name: decisions about versions record both."""
        return queryset.filter(Q(object_repr__icontains=value) | Q(data__dataset__icontains=value))
