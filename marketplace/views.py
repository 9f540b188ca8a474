import ipaddress
import secrets

from django.conf import settings
from django.http import Http404, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.permissions import is_platform_admin
from catalog import selectors as catalog_selectors
from core.api import errors as api_errors
from marketplace.health import SCOPES, health_report
from marketplace.mail import dev_mailbox


@require_GET
def home(request):
    """What the exchange offers, a search box, themes with counts, newest and most used datasets, publishers."""
    return render(request, "home.html", catalog_selectors.home_sections())


@never_cache
@require_GET
def healthz(request):
    """?scope=web: the database and Redis only (the web container's health check); default: a worker as well."""
    scope = request.GET.get("scope", "all")
    if scope not in SCOPES:
        return JsonResponse({"status": "unknown scope", "scopes": list(SCOPES)}, status=400)
    healthy, checks = health_report(detail=settings.DEBUG or request.user.is_staff, scope=scope)
    return JsonResponse(
        {"status": "ok" if healthy else "down", "scope": scope, "checks": checks},
        status=200 if healthy else 503,
        json_dumps_params={"ensure_ascii": False},
    )


MAILBOX_KEY_COOKIE = "dev_mailbox_key"


# Headers a proxy adds: a request that came through one is not from this machine, whatever REMOTE_ADDR says
# (nginx on the same host connects from 127.0.0.1).
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def _from_loopback(request) -> bool:
    if any(request.META.get(header) for header in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _mailbox_key_matches(given: str) -> bool:
    expected = settings.DEV_MAILBOX_KEY
    return bool(expected and given) and secrets.compare_digest(given.encode(), expected.encode())


@never_cache
@require_GET
def mailbox(request):
    """Development only (DEV_MAILBOX): the e-mails the portal would have sent, so a tester can follow links.

    Platform admins see them whole. On this machine the launcher's key (?key=…, then a cookie) opens the
    list with one-time links (password reset, invitation, e-mail confirmation) hidden: they let whoever
    holds them act as the addressee. Everyone else gets a 404, as if the page did not exist.
    """
    if not settings.DEV_MAILBOX:
        raise Http404
    admin = is_platform_admin(request.user)
    key_in_link = request.GET.get("key", "")
    keyed = _from_loopback(request) and _mailbox_key_matches(key_in_link or request.COOKIES.get(MAILBOX_KEY_COOKIE, ""))
    if not (admin or keyed):
        raise Http404
    response = render(
        request,
        "dev/mailbox.html",
        {"messages_sent": dev_mailbox(show_one_time_links=admin), "one_time_links_hidden": not admin},
    )
    if keyed and key_in_link:
        response.set_cookie(
            MAILBOX_KEY_COOKIE,
            key_in_link,
            path=reverse("dev_mailbox"),
            httponly=True,
            samesite="Strict",
            secure=request.is_secure(),
        )
    response["Referrer-Policy"] = "no-referrer"  # the key is in the address
    return response


def _api_error(request, *, status: int, code: str, message):
    """Under /api/ a program gets the API's one JSON error shape (core.api.errors), not a page: an address no
    URL matches (/api/v1/api-keys/abc/), or a failure outside DRF's views."""
    if not request.path.startswith("/api/"):
        return None
    return JsonResponse(
        api_errors.body(status_code=status, code=code, message=message),
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )


def error_403(request, exception=None):
    return _api_error(request, status=403, code="permission_denied", message=_("You are not allowed to do this.")) or (
        render(request, "errors/403.html", status=403)
    )


def error_404(request, exception=None):
    return _api_error(request, status=404, code="not_found", message=_("Not found.")) or render(
        request, "errors/404.html", status=404
    )


def error_500(request):
    api = _api_error(request, status=500, code="server_error", message=_("The request failed."))
    if api is not None:
        return api
    # No context processors: the error may come from the database or the session.
    return HttpResponseServerError(loader.get_template("errors/500.html").render())
