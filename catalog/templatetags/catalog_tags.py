from urllib.parse import urlencode

from django import template
from django.utils.translation import get_language

register = template.Library()


@register.filter
def localized(value):
    """A message stored in every site language ({"ko": …, "en": …}) in the reader's language."""
    if isinstance(value, dict):
        return value.get(get_language()) or value.get("ko") or next(iter(value.values()), "")
    return value


# --- catalog URL state: every search is a URL; these build the links that change one part of it ---------


# A catalog page has a link per facet value (about 150): built from the query's (name, value) pairs and
# urlencode, not by copying the QueryDict each time.


def _pairs(query, *, without=()) -> list[tuple[str, str]]:
    return [(name, value) for name, values in query.lists() if name not in without for value in values]


def _encoded(pairs) -> str:
    return "?" + urlencode(pairs) if pairs else "?"


@register.simple_tag
def toggle_url(query, name, value):
    """The current search with `value` of filter `name` added, or removed when already chosen (back to page 1)."""
    pairs = _pairs(query, without=("page",))
    if (name, value) in pairs:
        pairs = [pair for pair in pairs if pair != (name, value)]
    else:
        pairs.append((name, value))
    return _encoded(pairs)


@register.simple_tag
def without_url(query, *names):
    """The current search without the given parameters (e.g. without q, or without every filter)."""
    return _encoded(_pairs(query, without=(*names, "page")))


@register.simple_tag
def page_url(query, number):
    return _encoded([*_pairs(query, without=("page",)), ("page", str(number))])


@register.filter
def page_window(result, around=2):
    """Page numbers to show: the first, the last and `around` either side of the current one; None for a gap."""
    shown, last = [], 0
    for n in sorted({1, result.pages, *range(result.page - around, result.page + around + 1)}):
        if 1 <= n <= result.pages:
            if n - last > 1:
                shown.append(None)
            shown.append(n)
            last = n
    return shown
