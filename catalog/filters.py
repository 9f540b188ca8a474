"""The catalog's filters: one django-filter FilterSet for the browse page and the API.

Every filter is a GET parameter, so a search is a URL (shareable, back button). Within one facet the
chosen values are alternatives (theme=environment&theme=energy: either); different facets all apply.
Values are matched against CatalogEntry columns only, so a filtered search stays one table's index
lookups. Unknown values simply match nothing; malformed ones are form errors (the API answers 400).
"""

import re

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Organization
from catalog.models import CatalogEntry, DatasetVersion, Licence, Theme

SORTS = {
    "relevance": _("Relevance"),
    "newest": _("Newest"),
    "downloads": _("Most downloaded"),
    "title": _("Title"),
}
PRICE_TYPES = {"free": _("Free"), "paid": _("Paid (one-off)"), "subscription": _("Subscription")}
MAX_VALUES = 20
TOKEN = re.compile(r"^[\w.\- ]{1,60}$")


class ValuesField(forms.MultipleChoiceField):
    """Repeated GET values of any short token (not a fixed list: publishers and tags are open sets)."""

    def valid_value(self, value):
        return bool(TOKEN.match(value))

    def clean(self, value):
        value = [v.strip() for v in (value or []) if v and v.strip()]
        if len(value) > MAX_VALUES:
            raise forms.ValidationError(_("Choose at most %(n)d values per filter.") % {"n": MAX_VALUES})
        return super().clean(value)


class ValuesFilter(django_filters.MultipleChoiceFilter):
    field_class = ValuesField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [])
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        return self.method(qs, self.field_name, value) if self.method else qs.filter(**{f"{self.field_name}__in": value})


def _by_code(model, field="code"):
    """Codes (or slugs) in the URL become ids before the search runs: with constants the planner estimates
    the filter right (a subquery made it assume one row and pick bad plans at a million datasets)."""

    def apply(qs, name, value):
        if model in (Theme, Licence):
            from catalog.discovery import reference_ids

            ids = [pk for code, pk in reference_ids(model).items() if code in value]
        else:
            ids = list(model.objects.filter(**{f"{field}__in": value}).values_list("pk", flat=True))
        return qs.filter(**{f"{name}__in": ids}) if ids else qs.none()

    return apply


def _overlap(qs, name, value):
    return qs.filter(**{f"{name}__overlap": list(value)})


class CatalogFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", max_length=200, label=_("Search"))
    theme = ValuesFilter(field_name="theme", label=_("Theme"))
    publisher = ValuesFilter(field_name="publisher", label=pgettext_lazy("organization", "Publisher"))
    format = ValuesFilter(field_name="formats", label=_("Format"))
    licence = ValuesFilter(field_name="licence", label=_("Licence"))
    price = ValuesFilter(field_name="price_types", label=_("Price"))
    tag = ValuesFilter(field_name="tags", label=_("Keyword"))
    cadence = ValuesFilter(field_name="update_cadence", label=_("Update cadence"))
    area = ValuesFilter(field_name="area", label=_("Area"))
    sort = django_filters.ChoiceFilter(
        choices=list(SORTS.items()), method="filter_sort", label=_("Sort by"), empty_label=None
    )

    # Ordering is applied by catalog.selectors.catalog_search (it depends on the number of matches).
    FACETS = ("theme", "publisher", "format", "licence", "price", "tag", "cadence", "area")

    class Meta:
        model = CatalogEntry
        fields = []

    def __init__(self, data=None, *args, text: str = "phrase", **kwargs):
        """`text` is how q matches: "phrase" (the index, exact), "loose" (a word's bigrams ANDed without
        positions: a cheap superset for the probe) or "walk" (ts_match_vq, a plain filter, so that when many
        datasets match the planner walks the popularity index instead of misjudging a phrase query)."""
        super().__init__(data, *args, **kwargs)
        self.text = text
        self.filters["theme"].method = _by_code(Theme)
        self.filters["publisher"].method = _by_code(Organization, "slug")
        self.filters["licence"].method = _by_code(Licence)
        for name in ("format", "price", "tag"):
            self.filters[name].method = _overlap
        self.filters["cadence"].field.choices = DatasetVersion.Cadence.choices
        self.filters["price"].field.choices = list(PRICE_TYPES.items())

    def filter_q(self, qs, name, value):
        from django.db.models import BooleanField, F, Func

        from catalog.search import parse_query

        query = parse_query(value, loose=self.text == "loose")
        if query is None:
            return qs
        if self.text == "walk":
            match = Func(F("search_vector"), query, function="ts_match_vq", output_field=BooleanField())
            return qs.alias(text_match=match).filter(text_match=True)
        return qs.filter(search_vector=query)

    def filter_sort(self, qs, name, value):
        return qs  # see catalog_search

    def state(self) -> dict:
        """The cleaned filter values (what the page shows as active filters and encodes into links)."""
        data = self.form.cleaned_data if self.is_bound and self.form.is_valid() else {}
        return {name: data.get(name) or [] for name in self.FACETS} | {
            "q": (data.get("q") or "").strip(), "sort": data.get("sort") or ""
        }

