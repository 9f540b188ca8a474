"""The terms of use and the privacy policy: the version in force, earlier (and announced) versions, and the page
that asks a signed-in user to agree to a version that came into force since they last agreed
(accounts.middleware.PolicyConsentMiddleware sends them there)."""

import markdown
import nh3
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts import selectors, services
from accounts.middleware import POLICY_SESSION_KEY
from accounts.models import PolicyVersion
from catalog.rendering import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, URL_SCHEMES
from core.errors import DomainError
from core.http import client_ip

POLICY_TAGS = ALLOWED_TAGS | {"h2"}


def placeholders() -> dict[str, str]:
    """What `{operator_name}` and the like in a policy's text stand for, in the reader's language."""
    en = get_language() == "en"
    operator, officer = settings.OPERATOR, settings.PRIVACY_OFFICER
    return {
        "{operator_name}": operator["name_en" if en else "name_ko"],
        "{operator_address}": operator["address_en" if en else "address_ko"],
        "{operator_phone}": operator["phone"],
        "{operator_email}": operator["email"],
        "{privacy_officer}": officer["name_en" if en else "name_ko"],
        "{privacy_officer_phone}": officer["phone"],
        "{privacy_officer_email}": officer["email"],
    }


def render_policy(text: str):
    """A policy's Markdown as safe HTML (sections are h2 under the page's h1), placeholders filled."""
    for token, value in placeholders().items():
        text = text.replace(token, value)
    html = markdown.markdown(text, extensions=["sane_lists", "tables"], output_format="html")
    clean = nh3.clean(html, tags=POLICY_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES)
    return mark_safe(clean)  # noqa: S308 (sanitised by nh3 just above)


@require_GET
def policy(request, kind, version=None):
    if kind not in PolicyVersion.Kind.values:
        raise Http404
    shown = selectors.policy_get(kind, version)
    versions = selectors.policy_versions(kind)
    in_force_id = selectors.policy_ids_in_force().get(kind)
    return render(
        request,
        "policies/policy.html",
        {
            "policy": shown,
            "body_html": render_policy(shown.body),
            "versions": versions,
            "in_force_id": in_force_id,
            "is_current": shown.pk == in_force_id,
        },
    )


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/"


@login_required
def policies_agree(request):
    """The versions in force the user has not agreed to yet: what changed, links to the full texts, one box
    each. Agreeing records the agreement and returns to the page the user was going to."""
    missing = selectors.policies_to_agree(request.user)
    if not missing:
        return redirect(_next_url(request))
    error = None
    if request.method == "POST":
        ticked = set(request.POST.getlist("agree"))
        if ticked != {str(policy.pk) for policy in missing}:
            error = _("Tick each box to agree, or sign out if you do not agree.")
        else:
            try:
                services.policies_agree(actor=request.user, policies=missing, ip=client_ip(request))
            except DomainError as exc:
                error = exc.message
            else:
                request.session[POLICY_SESSION_KEY] = sorted(selectors.policy_ids_in_force().values())
                messages.success(request, _("Thank you. Your agreement has been recorded."))
                return redirect(_next_url(request))
    return render(
        request,
        "policies/agree.html",
        {"missing": missing, "next": _next_url(request), "error": error},
    )
