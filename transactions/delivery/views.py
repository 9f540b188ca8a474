"""Delivery actions: retry, signed links, the download itself, and the admins' failed-packages page.
(The order page and its live fragment, worded by transactions.selectors.order_delivery_status, are
transactions/views.py.) Thin: selectors read, services decide."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import staff_required
from core.errors import DomainError, NotAllowed
from transactions.delivery import downloads, selectors, services


def _back(request, *candidates: str) -> str:
    """The first of `next`, then `candidates` (e.g. the referring page), that is a URL of this site."""
    for target in (request.POST.get("next"), request.GET.get("next"), *candidates):
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return target
    return "/"


@login_required
@require_POST
def package_retry(request, pk):
    package = selectors.package_for_viewer(request.user, pk)
    order = package.entitlement.order_item.order
    try:
        services.package_retry(actor=request.user, package=package)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The package is being built again."))
    return redirect(_back(request, request.META.get("HTTP_REFERER", ""), services.order_path(order)))


@login_required
@require_POST
def package_link(request, pk):
    """Make a signed, expiring link for the signed-in buyer and go to it (the browser downloads)."""
    package = selectors.package_for_viewer(request.user, pk)
    try:
        url = services.download_link(user=request.user, package=package)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(_back(request, services.order_path(package.entitlement.order_item.order)))
    return _see_other(url)


def _see_other(url):
    response = redirect(url)
    response.status_code = 303  # after a POST: the browser GETs the link
    return response


@require_http_methods(["GET", "HEAD"])
def package_download(request, token):
    """The file, for whoever holds a genuine, unexpired link whose user may still download it.
    A forged link answers 403, an expired one 410; never a byte of the file."""
    try:
        claims = downloads.unsign(token)
    except downloads.LinkExpired:
        return downloads.refused(
            request,
            410,
            _("This download link has expired. Open the order page and download again: a new link is made each time."),
        )
    except downloads.LinkInvalid:
        return downloads.refused(request, 403, _("This download link is not valid."))
    try:
        package, user = services.download_authorize(claims=claims, request_user=request.user)
    except NotAllowed as exc:
        return downloads.refused(request, 403, str(exc) or _("You cannot download this package."))
    except DomainError as exc:
        return downloads.refused(request, 410 if exc.code == "gone" else 403, exc.message)
    return downloads.respond(request, package, user=user)


@staff_required
def failed_packages(request):
    """Packages that failed (with the reason and attempts) or wait for a retry, with a retry button."""
    return render(request, "staff/packages_failed.html", {"packages": selectors.failed_packages()})
