"""The catalog's filters: one django-filter FilterSet for the browse page and the API.

Every filter is a GET parameter, so a search is a URL (shareable, back button). Within one facet the
chosen values are alternatives (theme=environment&theme=energy: either); different facets all apply.
Values are matched as CatalogEntry.facet_keys ("t:3", "a:경기도 시흥시"), which share one GIN index with the
search vector: a search with every filter is one index scan. Unknown values simply match nothing;
malformed ones are form errors (the API answers 400).
"""

import re

import django_filters
from django import forms
from django.contrib.postgres.fields import ArrayField
from django.db.models import BooleanField, CharField, F, Func, Value
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Organization
from catalog.models import CatalogEntry, DatasetVersion, Licence, Theme
from catalog.search import facet_key, parse_query

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
        return (
            self.method(qs, self.field_name, value) if self.method else qs.filter(**{f"{self.field_name}__in": value})
        )


def _facet_ids(model, field, values) -> list[int]:
    """Codes (or slugs) in the URL become ids: themes and licences from the per-process reference cache."""
    if model in (Theme, Licence):
        # cycle: catalog.discovery imports CatalogFilter, keys_condition, SORTS and PRICE_TYPES from this module
        from catalog.discovery import reference_ids

        return [pk for code, pk in reference_ids(model).items() if code in values]
    return list(model.objects.filter(**{f"{field}__in": values}).values_list("pk", flat=True))


def keys_condition(keys: list[str], *, walk: bool = False):
    """The condition "has one of these facet keys" (or "has this key"), for filter(). `walk` states it as a
    plain function call the GIN index cannot serve, so that the planner walks a sort index instead (see
    catalog.discovery: with many matches that is far cheaper than collecting every match to sort it)."""
    if not walk:
        return {"facet_keys__contains" if len(keys) == 1 else "facet_keys__overlap": keys}
    function = "arraycontains" if len(keys) == 1 else "arrayoverlap"
    value = Value(keys, output_field=ArrayField(CharField()))
    return Func(F("facet_keys"), value, function=function, output_field=BooleanField())


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

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        for name in self.FACETS:
            self.filters[name].method = "filter_facet"
        self.filters["cadence"].field.choices = DatasetVersion.Cadence.choices
        self.filters["price"].field.choices = list(PRICE_TYPES.items())
        # What the filters resolved to once .qs ran: the text query and a list of key groups (one per facet;
        # OR within a group, AND across), or None when a filter can match nothing. catalog.discovery builds its
        # other querysets (sample, walk) from these without resolving codes again.
        self.text_query = None
        self.key_groups: list[list[str]] | None = []

    def get_form_class(self):
        """The form class, built once per FilterSet class: django-filter builds a new class (and a new form field per
        filter) for every FilterSet, ~0.5 ms of every catalog request. Its fields depend on nothing of the request
        (the choices are set in __init__, the same each time), and every form deepcopies them."""
        cls = type(self)
        form_class = cls.__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            cls._form_class = form_class
        return form_class

    def filter_q(self, qs, name, value):
        self.text_query = parse_query(value)
        return qs if self.text_query is None else qs.filter(search_vector=self.text_query)

    def filter_facet(self, qs, name, value):
        values = list(dict.fromkeys(value))
        if name == "theme":
            values = _facet_ids(Theme, "code", values)
        elif name == "licence":
            values = _facet_ids(Licence, "code", values)
        elif name == "publisher":
            values = _facet_ids(Organization, "slug", values)
        if not values:  # unknown codes: nothing can match
            self.key_groups = None
            return qs.none()
        keys = [facet_key(self._facet_names[name], v) for v in values]
        if self.key_groups is not None:
            self.key_groups.append(keys)
        return qs.filter(**keys_condition(keys))

    # A filter method is called with the filter's field name.
    _facet_names = {
        "theme": "theme",
        "publisher": "publisher",
        "formats": "format",
        "licence": "licence",
        "price_types": "price",
        "tags": "tag",
        "update_cadence": "cadence",
        "area": "area",
    }

    def filter_sort(self, qs, name, value):
        return qs  # see catalog_search

    def state(self) -> dict:
        """The cleaned filter values (what the page shows as active filters and encodes into links)."""
        data = self.form.cleaned_data if self.is_bound and self.form.is_valid() else {}
        return {name: data.get(name) or [] for name in self.FACETS} | {
            "q": (data.get("q") or "").strip(),
            "sort": data.get("sort") or "",
        }
