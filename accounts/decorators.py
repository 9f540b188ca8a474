"""View guards. Anonymous users go to the login page; signed-in users without the right get 403."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from accounts.permissions import can


def staff_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not can(request.user, "accounts.platform_admin"):
            raise PermissionDenied(_("This page is for platform admins."))
        return view(request, *args, **kwargs)

    return wrapper


def active_org_permission_required(perm: str, message: str):
    """Requires `perm` (see accounts.permissions) on the user's active organization."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            membership = request.active_membership or None
            organization = membership.organization if membership else None
            if organization is None or not can(request.user, perm, organization):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def publisher_required(view):
    return active_org_permission_required(
        "accounts.publish_for_org",
        "Publishing needs the publisher or owner role in a verified provider organization.",
    )(view)


def buyer_required(view):
    return active_org_permission_required(
        "accounts.buy_for_org",
        "Buying needs the buyer or owner role in a verified consumer organization.",
    )(view)
