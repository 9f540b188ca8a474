from django.conf import settings
from django.http import Http404, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from marketplace.health import health_report
from marketplace.mail import dev_mailbox


@require_GET
def home(request):
    """What the exchange offers, a search box, themes with counts, newest and most used datasets, publishers."""
    from catalog import selectors

    return render(request, "home.html", selectors.home_sections())


@never_cache
@require_GET
def healthz(request):
    healthy, checks = health_report(detail=settings.DEBUG or request.user.is_staff)
    return JsonResponse(
        {"status": "ok" if healthy else "down", "checks": checks},
        status=200 if healthy else 503,
        json_dumps_params={"ensure_ascii": False},
    )


@never_cache
@require_GET
def mailbox(request):
    """Development only: the e-mails the portal would have sent, so a tester can follow links."""
    if not settings.DEV_MAILBOX:
        raise Http404
    return render(request, "dev/mailbox.html", {"messages_sent": dev_mailbox()})


def error_403(request, exception=None):
    return render(request, "errors/403.html", status=403)


def error_404(request, exception=None):
    return render(request, "errors/404.html", status=404)


def error_500(request):
    # No context processors: the error may come from the database or the session.
    return HttpResponseServerError(loader.get_template("errors/500.html").render())
