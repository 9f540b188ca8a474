"""Who may do what, as django-rules predicates on (user, organization).

Services check these (through `can`); views use them to decide what to show.
"""

import rules

from accounts.models import Membership


def _role(user, organization):
    if not user or not user.is_authenticated or organization is None:
        return None
    cache = getattr(user, "_role_cache", None)
    if cache is None:
        cache = user._role_cache = {}
    if organization.pk not in cache:
        cache[organization.pk] = (
            Membership.objects.filter(user=user, organization=organization).values_list("role", flat=True).first()
        )
    return cache[organization.pk]


@rules.predicate
def is_platform_admin(user):
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


@rules.predicate
def is_member(user, organization):
    return _role(user, organization) is not None


@rules.predicate
def is_owner(user, organization):
    return _role(user, organization) == Membership.Role.OWNER


@rules.predicate
def has_publisher_role(user, organization):
    return _role(user, organization) in (Membership.Role.OWNER, Membership.Role.PUBLISHER)


@rules.predicate
def has_buyer_role(user, organization):
    return _role(user, organization) in (Membership.Role.OWNER, Membership.Role.BUYER)


@rules.predicate
def org_is_verified(user, organization):
    return organization is not None and organization.is_verified


@rules.predicate
def org_is_provider(user, organization):
    return organization is not None and organization.is_provider


@rules.predicate
def org_is_consumer(user, organization):
    return organization is not None and organization.is_consumer


rules.add_perm("accounts.view_org", is_member | is_platform_admin)
rules.add_perm("accounts.manage_org", is_owner)
rules.add_perm("accounts.platform_admin", is_platform_admin)  # reviews, refunds, staff pages
rules.add_perm("accounts.verify_org", is_platform_admin)
# Publishing and buying need the role *and* a verified organization of the right kind.
rules.add_perm("accounts.publish_for_org", has_publisher_role & org_is_provider & org_is_verified)
rules.add_perm("accounts.buy_for_org", has_buyer_role & org_is_consumer & org_is_verified)


def forget_roles(user):
    """Drop the per-request role cache after a membership change."""
    if hasattr(user, "_role_cache"):
        del user._role_cache


# The scope an API key needs for each power (accounts.models.ApiToken). A key never manages an organization's
# members or keys' owners: that is a person's job in the browser.
SCOPE_OF_PERM = {
    "accounts.publish_for_org": "publish",
    "accounts.buy_for_org": "buy",
    "accounts.platform_admin": "admin",
    "accounts.verify_org": "admin",
    "transactions.confirm_bank_transfer": "admin",  # defined by transactions.payments.services (a platform admin)
    "transactions.refund": "admin",  # defined by transactions.refunds.services (a platform admin)
    "accounts.manage_org": None,
}


def token_allows(token, perm: str, obj=None) -> bool:
    """Whether an API key lets its user use `perm` (on `obj`): the key's scope and its one organization."""
    if perm in SCOPE_OF_PERM and SCOPE_OF_PERM[perm] not in token.scopes:
        return False
    if SCOPE_OF_PERM.get(perm) == "admin":
        return True  # a platform admin's power is over every organization, whichever the key was made for
    is_organization = getattr(getattr(obj, "_meta", None), "label", None) == "accounts.Organization"
    organization_id = obj.pk if is_organization else None
    return organization_id is None or token.organization_id in (None, organization_id)


def can(user, perm: str, obj=None) -> bool:
    """Check a rule directly (not through auth backends, so superusers get no blanket pass).

    A request made with an API key (accounts.api.authentication sets `user.api_token`) is also held to the key's
    scopes and organization, here, so every service checks them without knowing about keys."""
    token = getattr(user, "api_token", None)
    if token is not None and not token_allows(token, perm, obj):
        return False
    return rules.has_perm(perm, user, obj)
