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


def _encoded(query) -> str:
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag
def toggle_url(query, name, value):
    """The current search with `value` of filter `name` added, or removed when already chosen (back to page 1)."""
    query = query.copy()
    values = query.getlist(name)
    query.setlist(name, [v for v in values if v != value] if value in values else [*values, value])
    query.pop("page", None)
    return _encoded(query)


@register.simple_tag
def without_url(query, *names):
    """The current search without the given parameters (e.g. without q, or without every filter)."""
    query = query.copy()
    for name in names:
        query.pop(name, None)
    query.pop("page", None)
    return _encoded(query)


@register.simple_tag
def page_url(query, number):
    query = query.copy()
    query["page"] = str(number)
    return _encoded(query)


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
