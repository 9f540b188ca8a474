"""System checks of the transactions app (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def card_gateway_configured(app_configs, **kwargs):
    """Card checkout needs the PG's payment window: PG_CHECKOUT_URL, or the simulator in a demonstration."""
    if settings.PG_SIMULATOR or settings.PG_CHECKOUT_URL:
        return []
    return [
        Warning(
            "Card payments cannot start: PG_CHECKOUT_URL is not set (and the simulated PG is off).",
            hint="Set PG_CHECKOUT_URL, PG_API_BASE, PG_CLIENT_KEY and PG_SECRET_KEY for the card PG, "
            "or PG_SIMULATOR=true for a demonstration stack.",
            id="transactions.W001",
        )
    ]
