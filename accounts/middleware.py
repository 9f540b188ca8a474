from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from accounts.mfa import has_second_factor, is_mfa_required
from accounts.selectors import policies_to_agree, policy_ids_in_force
from core.api.errors import body, in_both


def _memberships(request):
    user = request.user
    if not user.is_authenticated:
        return []
    memberships = list(user.memberships.select_related("organization").order_by("organization__name_ko"))
    # Seed the permission predicates' role cache (accounts.permissions._role) from the rows just
    # loaded, so the header's checks of the active organization cost no further query.
    user._role_cache = {m.organization_id: m.role for m in memberships}
    return memberships


def _active_membership(request):
    memberships = request.user_memberships
    for membership in memberships:
        if membership.organization_id == request.user.active_organization_id:
            return membership
    # No choice stored, or the user left that organization: act for the first one.
    return memberships[0] if memberships else None


class ActiveOrganizationMiddleware:
    """Sets `request.user_memberships` and `request.active_membership` lazily (one query, when used)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.user_memberships = SimpleLazyObject(lambda: _memberships(request))
        request.active_membership = SimpleLazyObject(lambda: _active_membership(request))
        return self.get_response(request)


# Paths a user who has not agreed to the policies in force may still open: signing in and out, the policies
# themselves, the admin's pages (an admin is never locked out of the admin), and machinery.
POLICY_FREE_PREFIXES = (
    "/accounts/",
    "/policies/",
    "/staff/",
    "/django-admin/",
    "/i18n/",
    "/static/",
    "/healthz",
    "/dev/",
    "/pg-sim/",
    "/orders/payments/",  # the payment gateway's return to the exchange confirms the payment: never in between
    "/orders/delivery/",  # downloads
)
# URLs of files and data rather than pages (the free sample, a map layer): never answered with the agree page.
FILE_SUFFIXES = (".csv", ".json", ".geojson", ".zip", ".xlsx", ".txt", ".ttl", ".jsonld", ".rdf", ".xml")
POLICY_SESSION_KEY = "policies_agreed"


def _remember_if_agreed(request, user) -> bool:
    """True when the user agreed to every version in force; remembered in the session, so later requests cost
    no query. False (nothing remembered) when a version waits for their agreement."""
    agreed = request.session.get(POLICY_SESSION_KEY, [])
    if policies_to_agree(user, agreed_ids=agreed):
        return False
    in_force = sorted(policy_ids_in_force().values())
    if in_force and in_force != sorted(agreed):
        request.session[POLICY_SESSION_KEY] = in_force
    return True


def remember_policies_at_login(sender, request, user, **kwargs):
    """On signing in, check the user's agreements once (the signal of django.contrib.auth.login)."""
    if request is not None and hasattr(request, "session"):
        _remember_if_agreed(request, user)


class PolicyConsentMiddleware:
    """A signed-in user who has not agreed to the terms or the privacy policy in force (a new version took effect
    since they last agreed) is sent to the page that shows what changed and asks them to agree, on the next page
    they open. Only GETs of pages are redirected (a form being submitted, an htmx poll, a file or JSON a page fetches is
    never interrupted; a boosted htmx navigation is a page), and never on the paths above (payment returns and downloads included). The versions agreed to are remembered in the session, so a user
    who is up to date costs no query."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._must_ask(request):
            return redirect(f"{reverse('policies_agree')}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    @staticmethod
    def _must_ask(request) -> bool:
        if (
            request.method != "GET"
            or (request.headers.get("HX-Request") and not request.headers.get("HX-Boosted"))
            or request.path.startswith(POLICY_FREE_PREFIXES)
            # Only a page is interrupted: a file (the free sample CSV) or data a page fetches (the map's JSON)
            # would get an HTML page in its place.
            or request.path.endswith(FILE_SUFFIXES)
            or "text/html" not in request.headers.get("Accept", "text/html")
        ):
            return False
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return False
        return not _remember_if_agreed(request, user)


# Paths open to a user who must set up a second factor and has none: the set-up itself (/accounts/2fa/), signing in
# and out, re-entering the password the set-up asks for, the policies, and machinery.
MFA_SETUP_PREFIXES = (
    "/accounts/2fa/",
    "/accounts/login/",
    "/accounts/logout/",
    "/accounts/reauthenticate/",
    "/accounts/confirm-email/",
    "/policies/",
    "/i18n/",
    "/static/",
    "/healthz",
    "/pg-sim/",
)
MFA_OK_SESSION_KEY = "mfa_second_factor_ok"


class MfaRequiredMiddleware:
    """With MFA_REQUIRED_FOR_STAFF: a platform admin or an organization owner without a second factor (an
    authenticator app or a security key) reaches no page but its set-up. A page is redirected to the set-up with a
    message; anything else (a form, an htmx request, the API used from the session) gets 403 saying why. An API key's
    requests are not the session's and are not stopped here. Once the user has a factor it is remembered in the
    session (no query on later pages); removing one forgets it (accounts.apps, allauth's authenticator_removed)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._must_set_up(request):
            return self._to_set_up(request)
        return self.get_response(request)

    @staticmethod
    def _must_set_up(request) -> bool:
        if not settings.MFA_REQUIRED_FOR_STAFF or request.path.startswith(MFA_SETUP_PREFIXES):
            return False
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or request.session.get(MFA_OK_SESSION_KEY):
            return False
        if not is_mfa_required(user, request.user_memberships):
            return False
        if has_second_factor(user):
            request.session[MFA_OK_SESSION_KEY] = True
            return False
        return True

    @staticmethod
    def _to_set_up(request):
        message = _(
            "Your role (platform administrator or organization owner) requires two-factor authentication. "
            "Set up an authenticator app or a security key to continue."
        )
        setup_url = reverse("mfa_index")
        if request.path.startswith("/api/"):
            return JsonResponse(body(status_code=403, code="mfa_required", message=message), status=403)
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=403)
            response["HX-Redirect"] = setup_url
            return response
        if request.method != "GET":
            both = in_both(message)
            return HttpResponseForbidden(
                f"{both['message_ko']}\n{both['message_en']}\n", content_type="text/plain; charset=utf-8"
            )
        messages.warning(request, str(message))
        return redirect(setup_url)


def forget_second_factor(sender, request=None, **kwargs):
    """allauth's authenticator_removed: check again on the next page whether a second factor is left."""
    if request is not None and hasattr(request, "session"):
        request.session.pop(MFA_OK_SESSION_KEY, None)
