from django import template
from django.utils.translation import get_language

register = template.Library()


@register.filter
def localized(value):
    """A message stored in every site language ({"ko": …, "en": …}) in the reader's language."""
    if isinstance(value, dict):
        return value.get(get_language()) or value.get("ko") or next(iter(value.values()), "")
    return value
