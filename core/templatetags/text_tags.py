from django import template
from django.utils.safestring import SafeString, mark_safe

from core.text import tidy_sentence

register = template.Library()


@register.filter(is_safe=True)
def sentence(value):
    """`{% filter sentence %}{% blocktrans %}… for {{ org }}.{% endblocktrans %}{% endfilter %}`: no "Inc.." when
    the name ends with a full stop. Only full stops are touched, so escaped HTML stays safe."""
    text = tidy_sentence(str(value))
    return mark_safe(text) if isinstance(value, SafeString) else text  # noqa: S308 (only full stops removed)
