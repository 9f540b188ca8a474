from datetime import timedelta

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def under_a_minute(value) -> bool:
    """True for a moment less than a minute ago: `timesince` would say "0 minutes" (Korean "0분째")."""
    return bool(value) and timezone.now() - value < timedelta(minutes=1)
