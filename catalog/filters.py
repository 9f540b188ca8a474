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
from django.db.models import BooleanField, CharField, F, Func, Q, Value
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_filters.constants import EMPTY_VALUES

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


def _facet_ids(model, field, values) -> list[int]:
    """Codes (or slugs) in the URL become ids: themes and licences from the per-process reference cache."""
    if model in (Theme, Licence):
        # cycle: catalog.discovery imports CatalogFilter, keys_condition, SORTS and PRICE_TYPES from this module
        from catalog.discovery import reference_ids

        return [pk for code, pk in reference_ids(model).items() if code in values]
    return list(model.objects.filter(**{f"{field}__in": values}).values_list("pk", flat=True))


def keys_condition(keys: list[str], *, walk: bool = False):
    """The condition "has one of these facet keys" (or "has this key"), for filter(). `walk` states it as a
    plain function call the GIN index cannot serve: so that the planner walks a sort index instead (see
    catalog.discovery: with many matches that is far cheaper than collecting every match to sort it), or checks a
    value most entries hold on the rows the other conditions found (CatalogFilter's `common`)."""
    if not walk:
        return {"facet_keys__contains" if len(keys) == 1 else "facet_keys__overlap": keys}
    function = "arraycontains" if len(keys) == 1 else "arrayoverlap"
    value = Value(keys, output_field=ArrayField(CharField()))
    return Func(F("facet_keys"), value, function=function, output_field=BooleanField())


class CatalogFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(max_length=200, label=_("Search"))
    theme = ValuesFilter(field_name="theme", label=_("Theme"))
    publisher = ValuesFilter(field_name="publisher", label=pgettext_lazy("organization", "Publisher"))
    format = ValuesFilter(field_name="formats", label=_("Format"))
    licence = ValuesFilter(field_name="licence", label=_("Licence"))
    price = ValuesFilter(field_name="price_types", label=_("Price"), choices=list(PRICE_TYPES.items()))
    tag = ValuesFilter(field_name="tags", label=_("Keyword"))
    cadence = ValuesFilter(
        field_name="update_cadence", label=_("Update cadence"), choices=DatasetVersion.Cadence.choices
    )
    area = ValuesFilter(field_name="area", label=_("Area"))
    sort = django_filters.ChoiceFilter(choices=list(SORTS.items()), label=_("Sort by"), empty_label=None)

    # Ordering is applied by catalog.discovery.catalog_search (it depends on the number of matches).
    FACETS = ("theme", "publisher", "format", "licence", "price", "tag", "cadence", "area")

    class Meta:
        model = CatalogEntry
        fields = []

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, common=None):
        # django-filter's FilterSet.__init__ without its deep copy of every filter (to bind the copies to this
        # FilterSet for their `method`): filter_queryset below calls this class's methods itself, so the filters
        # are only read (by get_form_class, once per class), ~0.1 ms of every catalog request saved.
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = self.base_filters  # shared by every instance: never changed
        # What the filters resolved to once .qs ran: the text query and a list of key groups (one per facet;
        # OR within a group, AND across), or None when a filter can match nothing. catalog.discovery builds its
        # other querysets (sample, walk) from these without resolving codes again.
        self.text_query = None
        self.key_groups: list[list[str]] | None = []
        # `common(keys)`: whether the values of a facet are held by most of the catalog (catalog.discovery).
        # qs_common_on_rows states such filters as conditions the GIN index cannot serve, checked on the rows the
        # other conditions find: decoding a posting list of ~900,000 entries ("free") cost more than the few rows
        # it spared (discovery._page decides where that holds).
        self.common = common
        self.common_on_rows = False  # whether any filter is common (qs_common_on_rows differs from qs)
        self._on_rows: list | None = None

    def get_form_class(self):
        """The form class, built once per FilterSet class: django-filter builds a new class (and a new form field per
        filter) for every FilterSet, ~0.5 ms of every catalog request. Its fields depend on nothing of the request
        (their choices are fixed in the class), and every form deepcopies them."""
        cls = type(self)
        form_class = cls.__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            cls._form_class = form_class
        return form_class

    def filter_queryset(self, queryset):
        """The queryset of the cleaned values, each filter's condition in the order of the filters (as django-filter
        applies them), ANDed in one filter(): the same WHERE as one filter() per value, a clone and resolve less each.
        The sort is no condition (see catalog_search)."""
        conditions, on_rows = [], []
        nothing = False
        for name, value in self.form.cleaned_data.items():
            if value in EMPTY_VALUES or name == "sort":
                continue
            condition = self._text_condition(value) if name == "q" else self._facet_condition(name, value)
            if condition is False:
                nothing = True  # (the other filters still resolve their values, as before)
            elif condition is not None:
                conditions.append(condition)
                keys = self.key_groups[-1] if name != "q" and self.key_groups else None
                if keys is not None and self.common is not None and self.common(keys):
                    on_rows.append(keys_condition(keys, walk=True))
                    self.common_on_rows = True
                else:
                    on_rows.append(condition)
        queryset = queryset.none() if nothing else queryset
        self._on_rows = on_rows
        return queryset.filter(*conditions) if conditions else queryset

    @property
    def qs_common_on_rows(self):
        """qs with the common filters (`common`) checked on the rows instead of in the GIN index: the same matches."""
        qs = self.qs
        if not self.common_on_rows:
            return qs
        return self.queryset.none() if self.key_groups is None else self.queryset.all().filter(*self._on_rows)

    def _text_condition(self, value):
        """The words' condition; False when the text holds no word the index can search (only Hanja, lone jamo,
        signs): nothing matches it, as in the facets' unknown codes, rather than every dataset under a query the page
        shows as searched."""
        self.text_query = parse_query(value)
        if self.text_query is None:  # (a blank text is cleaned to "" and never gets here: no search)
            self.key_groups = None
            return False
        return Q(search_vector=self.text_query)

    def _facet_condition(self, name, value):
        """The condition of a facet's values; False when none of them exists (unknown codes: nothing can match)."""
        values = list(dict.fromkeys(value))
        if name == "theme":
            values = _facet_ids(Theme, "code", values)
        elif name == "licence":
            values = _facet_ids(Licence, "code", values)
        elif name == "publisher":
            values = _facet_ids(Organization, "slug", values)
        if not values:
            self.key_groups = None
            return False
        keys = [facet_key(name, v) for v in values]
        if self.key_groups is not None:
            self.key_groups.append(keys)
        return Q(**keys_condition(keys))

    def state(self) -> dict:
        """The cleaned filter values (what the page shows as active filters and encodes into links)."""
        data = self.form.cleaned_data if self.is_bound and self.form.is_valid() else {}
        return {name: data.get(name) or [] for name in self.FACETS} | {
            "q": (data.get("q") or "").strip(),
            "sort": data.get("sort") or "",
        }
