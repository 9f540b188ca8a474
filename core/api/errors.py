"""The API's one error shape, for every failure of every endpoint:

    {"error": {"status": 409, "code": "illegal_transition",
               "message": "<in the request's language>", "message_ko": "…", "message_en": "…",
               "fields": {"title_ko": [{"code": "required", "message_ko": "…", "message_en": "…"}]}}}

`fields` is present only for input errors (400). Domain errors (core.errors) keep their own code; DRF's and
Django's exceptions get theirs (not_authenticated, permission_denied, not_found, throttled, …).
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response

from core.errors import DomainError, IllegalTransition
from core.text import lazy_percent

LANGUAGES = ("ko", "en")


class BilingualValidationError(exceptions.ValidationError):
    """Field errors already rendered in both languages (core.api.validation.validated)."""

    def __init__(self, fields: dict, *, message=None):
        super().__init__(detail="invalid")
        self.fields = fields
        self.message = message or _("The request has errors: see the fields.")


def in_both(message) -> dict:
    """A (lazy) message in Korean and English; an already rendered string is the same in both."""
    out = {}
    for language in LANGUAGES:
        with translation.override(language):
            out[f"message_{language}"] = str(message)
    return out


def body(*, status_code: int, code: str, message, fields: dict | None = None) -> dict:
    both = in_both(message)
    error = {
        "status": status_code,
        "code": code,
        "message": both.get(f"message_{translation.get_language()}", both["message_ko"]),
        **both,
    }
    if fields:
        error["fields"] = fields
    return {"error": error}


def _django_validation_fields(exc: DjangoValidationError) -> tuple[dict, object]:
    if hasattr(exc, "error_dict"):
        fields = {
            name: [{"code": e.code or "invalid", **in_both(_message_of(e))} for e in errors]
            for name, errors in exc.error_dict.items()
        }
        return fields, _("The request has errors: see the fields.")
    first = exc.error_list[0]
    return {}, _message_of(first)


def _message_of(error: DjangoValidationError):
    if error.params:
        return lazy_percent(error.message, error.params)
    return error.message


def _drf_fields(detail) -> dict:
    """DRF's nested detail, flattened to field → [{code, message_ko, message_en}] (one language only)."""
    if isinstance(detail, dict):
        out = {}
        for name, value in detail.items():
            for key, errors in _drf_fields(value).items():
                out[name if key == "non_field_errors" else f"{name}.{key}"] = errors
            if isinstance(value, list) and all(isinstance(v, exceptions.ErrorDetail) for v in value):
                out[name] = [{"code": v.code, **in_both(str(v))} for v in value]
        return out
    if isinstance(detail, list):
        if all(isinstance(v, exceptions.ErrorDetail) for v in detail):
            return {"non_field_errors": [{"code": v.code, **in_both(str(v))} for v in detail]}
        out = {}
        for index, value in enumerate(detail):
            for key, errors in _drf_fields(value).items():
                out[f"{index}.{key}" if key != "non_field_errors" else str(index)] = errors
        return out
    return {}


def failure(exception_class, message):
    """A DRF exception that keeps its (lazy) message in both languages for the error shape."""
    exc = exception_class(detail=message)
    exc.lazy_message = message
    return exc


def _status_for(exc: DomainError) -> int:
    if isinstance(exc, IllegalTransition) or getattr(exc, "status", None) == 409:
        return status.HTTP_409_CONFLICT
    return getattr(exc, "status", None) or status.HTTP_400_BAD_REQUEST


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every error in the one shape above."""
    if isinstance(exc, BilingualValidationError):
        return Response(body(status_code=400, code="invalid", message=exc.message, fields=exc.fields), status=400)
    if isinstance(exc, DomainError):
        code = _status_for(exc)
        return Response(body(status_code=code, code=exc.code, message=exc.message), status=code)
    if isinstance(exc, DjangoValidationError):
        fields, message = _django_validation_fields(exc)
        return Response(body(status_code=400, code="invalid", message=message, fields=fields), status=400)
    lazy_message = None
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):  # core.errors.NotAllowed and Django's own: the message stays lazy
        lazy_message = exc.args[0] if exc.args and exc.args[0] else None
        exc = exceptions.PermissionDenied()
    lazy_message = lazy_message or getattr(exc, "lazy_message", None)
    csrf = isinstance(exc, exceptions.PermissionDenied) and str(exc.detail).startswith("CSRF Failed")
    if csrf:  # SessionAuthentication's own words, in English only
        lazy_message = _("The session's CSRF token is missing or wrong: reload the page, or use an API key.")
    # rest_framework.views loads the authentication classes, which import this module: a real cycle.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: Django's 500 page and the error log
    headers = {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After", "Allow")}
    if isinstance(exc, exceptions.ValidationError):
        message = _("The request has errors: see the fields.")
        data = body(status_code=400, code="invalid", message=message, fields=_drf_fields(exc.detail))
    else:
        codes = exc.get_codes()
        code = "csrf_failed" if csrf else codes if isinstance(codes, str) else "error"
        data = body(status_code=response.status_code, code=code, message=lazy_message or _default_message(exc))
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            data["error"]["retry_after"] = int(exc.wait + 0.999)
    return Response(data, status=response.status_code, headers=headers)


# DRF's own messages are rendered when the exception is built; these lazy ones give both languages.
_DEFAULTS = {
    exceptions.NotAuthenticated: _("Sign in or send an API key (Authorization: Token …)."),
    exceptions.AuthenticationFailed: _("The API key or sign-in is not valid."),
    exceptions.PermissionDenied: _("You are not allowed to do this."),
    exceptions.NotFound: _("Not found."),
    exceptions.MethodNotAllowed: _("This method is not allowed here."),
    exceptions.NotAcceptable: _("This format cannot be returned."),
    exceptions.UnsupportedMediaType: _("This content type is not accepted."),
    exceptions.Throttled: _("Too many requests: wait and try again (see Retry-After)."),
    exceptions.ParseError: _("The request body could not be read."),
}


# DRF builds these messages with details (the method, the wait, the parser's complaint) already rendered in the
# request's language; ours say the same in both languages (the wait is in `retry_after` and Retry-After).
_ALWAYS_OURS = (
    exceptions.MethodNotAllowed,
    exceptions.UnsupportedMediaType,
    exceptions.Throttled,
    exceptions.ParseError,
    exceptions.NotAcceptable,
)


def _default_message(exc):
    if isinstance(exc, _ALWAYS_OURS):
        return _DEFAULTS[type(exc)] if type(exc) in _DEFAULTS else _("The request failed.")
    own = str(exc.detail) if isinstance(exc.detail, str) else None
    default = _DEFAULTS.get(type(exc))
    if own and own != str(type(exc).default_detail):
        return own  # a specific message the raiser gave (already in the request's language)
    return default or own or _("The request failed.")
