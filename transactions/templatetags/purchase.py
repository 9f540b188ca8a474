"""The purchase panel of a dataset page: `{% load purchase %}{% purchase_panel dataset %}`.

Registered by transactions so the catalog's page needs no import of transactions (the dependency runs
one way). Shows the offers the viewer may see (a private offer only to its buyer organization), their
price as 공급가액 / 부가세 / 합계, and what the viewer can do: add to the cart, take a free dataset,
or why buying is not possible (signed out, no buyer role, unverified, own dataset, already owned).
"""

from urllib.parse import urlencode

from django import template
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from accounts.selectors import buyer_refusal
from catalog.models import API_OFFER_KINDS, DatasetVersion, Offer
from catalog.pricing import offer_price
from transactions import selectors

register = template.Library()


# Where a refused buyer can do something about it (accounts.selectors.buyer_refusal says what is missing).
_REFUSAL_LINKS = {
    "no_organization": ("accounts:organization_register", _lazy("Register your organization")),
    "not_consumer": ("accounts:dashboard", _lazy("My page")),
    "not_verified": ("accounts:dashboard", _lazy("My page")),
    "no_buyer_role": ("accounts:dashboard", _lazy("My page")),
}


def _why_not(user, organization, dataset) -> tuple[str, str, str] | None:
    """(message, link, link text) when the viewer cannot buy at all; None when they can."""
    if not user.is_authenticated:
        return None  # the template offers the login link with the offers
    if organization is not None and dataset.publisher_id == organization.pk:
        return (
            _("This dataset is your own organization's."),
            reverse("catalog:provider_home"),
            _("Provider workspace"),
        )
    refusal = buyer_refusal(user, organization)
    if refusal is None:
        return None
    url_name, label = _REFUSAL_LINKS[refusal.code]
    return refusal.message, reverse(url_name), str(label)


@register.inclusion_tag("transactions/_purchase_panel.html", takes_context=True)
def purchase_panel(context, dataset, published=None):
    """The buying panel of a dataset page; `published` is the page's published version when it has it."""
    request = context["request"]
    user = request.user
    membership = (request.active_membership or None) if user.is_authenticated else None
    organization = membership.organization if membership else None
    offers = selectors.offers_visible_to(dataset, organization)
    if published is None:
        published = (
            DatasetVersion.objects.filter(dataset=dataset, state=DatasetVersion.State.PUBLISHED)
            .select_related("licence", "dataset__publisher")
            .first()
        )
    blocked = _why_not(user, organization, dataset)
    can_buy = user.is_authenticated and blocked is None
    in_cart = selectors.cart_offer_ids(user, organization) if can_buy else set()
    facts = selectors.purchase_facts(organization, dataset, listed=published is not None) if can_buy else None
    owned = (
        selectors.covering(facts.entitlements, version=published, subscription=False) if can_buy and published else None
    )
    rows = []
    for offer in offers:
        version = selectors.offer_version(offer, published=published)
        rows.append(
            {
                "offer": offer,
                "version": version,
                "price": offer_price(offer),
                "in_cart": offer.pk in in_cart,
                "problem": (
                    selectors.purchase_problem(offer, organization, version=version, facts=facts)
                    if can_buy and version
                    else None
                ),
                "free": offer.kind == Offer.Kind.FREE,
                # API plans (issue 16): the development and metered plans are taken on their own page (licence,
                # cap); the subscription plan goes through the cart like any subscription.
                "api": offer.kind in API_OFFER_KINDS,
                "take_url": (
                    reverse("transactions:api_plan_take", args=[offer.pk])
                    if offer.kind in (Offer.Kind.API_DEV, Offer.Kind.API_METERED)
                    else ""
                ),
                # An unpaid order already holding the offer: the refusal links to it (pay or cancel there).
                "pending_order": facts.open_orders.get(offer.pk) if facts else None,
            }
        )
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "LANGUAGE_CODE": context.get("LANGUAGE_CODE"),
        "dataset": dataset,
        "rows": rows,
        "signed_in": user.is_authenticated,
        "blocked": blocked,
        "can_buy": can_buy,
        "owned": owned,
        "organization": organization,
        "login_url": reverse("account_login") + "?" + urlencode({"next": request.get_full_path()}),
    }


@register.simple_tag(takes_context=True)
def purchase_panel_for_viewer(context, dataset) -> bool:
    """Whether a dataset with nothing to buy for everyone (a harvested listing free at its source) still has a
    panel for this viewer: an offer made for their organization, or data their organization already has (a
    local offer since stopped). `{% purchase_panel_for_viewer dataset as needed %}`"""
    request = context["request"]
    membership = (request.active_membership or None) if request.user.is_authenticated else None
    organization = membership.organization if membership else None
    if organization is None:
        return False
    if selectors.offers_visible_to(dataset, organization):
        return True
    return bool(selectors.purchase_facts(organization, dataset, listed=True).entitlements)
