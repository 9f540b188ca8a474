"""The cart: one per user and organization; what goes in is checked now and again at checkout."""

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from accounts.selectors import buyer_refusal
from catalog.models import Offer
from core.errors import DomainError, NotAllowed
from transactions import selectors
from transactions.models import Cart, CartItem


def require_buyer(actor, organization: Organization | None) -> None:
    """The actor may buy for the organization (accounts.selectors.buyer_refusal), or NotAllowed says why."""
    refusal = buyer_refusal(actor, organization)
    if refusal is not None:
        raise NotAllowed(refusal.message)


def _cart_locked(actor, organization: Organization) -> Cart:
    cart, _created = Cart.objects.get_or_create(user=actor, organization=organization)
    return Cart.objects.select_for_update().get(pk=cart.pk)


@transaction.atomic
def cart_add(*, actor, organization: Organization | None, offer: Offer) -> CartItem:
    """Put an offer in the actor's cart for the organization. Adding it twice is a no-op (double click)."""
    require_buyer(actor, organization)
    offer = Offer.objects.select_related("dataset__publisher", "version__licence", "buyer").get(pk=offer.pk)
    if offer.buyer_id is not None and offer.buyer_id != organization.pk:
        # Someone else's private offer: refused as if it did not exist.
        raise NotAllowed(_("This offer is not available to your organization."))
    if offer.kind in (Offer.Kind.API_DEV, Offer.Kind.API_METERED):
        # Issue 16: taken on the plan's own page (the licence, and the metered plan's monthly cap), never by cart.
        raise DomainError(
            _("This API plan is taken on its own page from the dataset page, not through the cart."),
            code="api_plan_not_in_cart",
        )
    cart = _cart_locked(actor, organization)
    existing = cart.items.filter(offer=offer).first()
    if existing is not None:
        return existing
    problem = selectors.purchase_problem(offer, organization)
    if problem:
        raise DomainError(problem, code="not_buyable")
    if cart.items.filter(offer__dataset_id=offer.dataset_id).exists():
        raise DomainError(
            _("Your cart already holds an offer of this dataset: remove it first to choose another."),
            code="dataset_in_cart",
        )
    item = CartItem.objects.create(cart=cart, offer=offer)
    cart.save(update_fields=["updated_at"])
    return item


@transaction.atomic
def cart_remove(*, actor, organization: Organization | None, offer_id: int) -> bool:
    """Take an offer out of the cart; True when something was removed (a second click removes nothing)."""
    if organization is None:
        raise NotAllowed(buyer_refusal(actor, organization).message)
    deleted, _rows = CartItem.objects.filter(
        cart__user=actor, cart__organization=organization, offer_id=offer_id
    ).delete()
    return bool(deleted)
