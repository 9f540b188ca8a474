import re
import uuid

import structlog
from django.conf import settings
from django.core.signals import request_finished
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class KoreanFirstLocaleMiddleware(LocaleMiddleware):
    """Korean for every visitor unless they chose English with the language switch.

    Django's LocaleMiddleware would follow the browser's Accept-Language, so a company whose
    browsers run in English would land on an English portal; the city wants Korean first.
    The switch (django.views.i18n.set_language) sets the cookie read here. The API (/api/) follows
    Accept-Language when no cookie chose, so a program asking for English gets English messages.
    """

    def process_request(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language is None and request.path.startswith("/api/") and "HTTP_ACCEPT_LANGUAGE" in request.META:
            # A program says which language it wants; a browser on the portal's own pages still gets Korean first.
            language = translation.get_language_from_request(request)
        if language not in dict(settings.LANGUAGES):
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


# A request id taken from the proxy in front must look like one: letters, digits and - _ . : only, 8 to 128 of them
# (nginx's $request_id is 32 hex digits, a UUID has 36 characters). Anything else is replaced, so a client cannot
# put newlines or a megabyte into every log line.
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def request_id_for(request) -> str:
    """The id of this request: the trusted proxy's header when it is present and well-formed, else a new one."""
    header = settings.REQUEST_ID_TRUSTED_HEADER
    if header:
        value = request.headers.get(header, "")
        if REQUEST_ID_RE.fullmatch(value):
            return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives every request an id, first of all middleware: bound to every structlog/logging line of the request
    (structlog's contextvars), sent back as `X-Request-ID`, and carried by every Celery task enqueued during the
    request (django-structlog's task headers; the worker binds it again, marketplace/celery.py), so a task's log lines
    carry the id of the request that queued it. The id replaces any X-Request-ID the client sent, so django-structlog
    (which reads that header) logs the same one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_for(request)
        request.request_id = request_id
        request.META["HTTP_X_REQUEST_ID"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        response = self.get_response(request)
        # django-structlog's middleware cleared its context on the way out, but Django logs after every middleware
        # ("Not Found: …", a 500's traceback): the id stays bound until the response is closed (below).
        structlog.contextvars.bind_contextvars(request_id=request_id)
        response["X-Request-ID"] = request_id
        return response


def _forget_request_context(**kwargs):
    """Once a response is sent (and closed): nothing of the request stays bound to the thread for the next one."""
    structlog.contextvars.clear_contextvars()


request_finished.connect(_forget_request_context, dispatch_uid="marketplace.middleware.forget_request_context")
