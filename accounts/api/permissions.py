"""Which scope an endpoint needs, checked before the view runs so the refusal names the scope.

Each view says `scope = "publish" | "buy" | "admin" | "read"`. A session (the portal's own pages) has all of its
user's powers; a key needs the scope to write and the scope or `read` to read. Services check the same through
accounts.permissions.can, so a view that forgot its scope still cannot do more than the key allows."""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.models import ApiToken
from core.api.views import ApiGenericView, ApiView
from core.errors import NotAllowed
from core.text import lazy_percent


def token_of(request) -> ApiToken | None:
    """The API key of a DRF request; None for a session, and for a plain Django request (a page or template tag
    asking who acts, e.g. the dataset page's data API panel)."""
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiToken) else None


class HasScope(BasePermission):
    """Signed in (session or key) and, with a key, the view's scope."""

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            raise exceptions.NotAuthenticated()
        token = token_of(request)
        if token is None:
            return True
        scope = getattr(view, "scope", "read")
        allowed = {scope, "read"} if request.method in SAFE_METHODS else {scope}
        if not allowed & set(token.scopes):
            raise NotAllowed(lazy_percent(_("This API key needs the %(scope)s scope for this."), {"scope": scope}))
        return True


class IsPlatformAdmin(HasScope):
    """A platform admin, and with a key the admin scope."""

    def has_permission(self, request, view):
        super().has_permission(request, view)
        if not request.user.is_staff:
            raise NotAllowed(_("Only a platform admin can do this."))
        token = token_of(request)
        if token is not None and "admin" not in token.scopes:
            raise NotAllowed(_("This API key needs the admin scope for this."))
        return True


def acting_organization(request):
    """The organization a request acts for: the key's, or the signed-in user's chosen one (None if neither)."""
    token = token_of(request)
    if token is not None:
        return token.organization
    user = request.user
    return user.active_organization if user.is_authenticated else None


class KeysMadeByPeople(HasScope):
    """Keys are made by a person (the session), never with a key: refused before the body is even read. (A key may
    still revoke itself, and a platform admin's key with the admin scope any key: accounts.services decides.)"""

    def has_permission(self, request, view):
        super().has_permission(request, view)
        if request.method == "POST" and token_of(request) is not None:
            raise NotAllowed(
                _("Keys are made by a person: on your page, or with your signed-in session, not with a key.")
            )
        return True


class AdminView(ApiView):
    """The base of every platform-admin endpoint (accounts, catalog and transactions admin APIs)."""

    permission_classes = [IsPlatformAdmin]
    scope = "admin"


class AdminGenericView(ApiGenericView):
    """The base of every platform-admin list endpoint."""

    permission_classes = [IsPlatformAdmin]
    scope = "admin"
