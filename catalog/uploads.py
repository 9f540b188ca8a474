"""The tus 1.0 endpoint for resumable uploads (core protocol + creation + termination).

tus-js-client in the browser creates an upload (POST), learns the offset after a dropped
connection or a reload (HEAD) and sends the rest (PATCH). Bytes are streamed from the request
to a private staging file; nothing is read whole into memory. See https://tus.io/protocols/resumable-upload.

Programs use the same endpoint with an API key (`Authorization: Token <key>`, the `publish` scope, acting for
the key's organization; docs/api.md "큰 파일 올리기 (tus)"): the same authentication class as the API, the
same throttles, and no CSRF token (a browser never sends that header across sites by itself). The browser keeps
its session and CSRF token.
"""

import base64
import binascii
from functools import wraps

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from rest_framework.exceptions import AuthenticationFailed

from accounts.api.authentication import ApiTokenAuthentication
from catalog import selectors, services
from catalog.models import Upload
from core.api.throttling import PerIPThrottle, PerTokenThrottle
from core.api.views import record_key_write
from core.errors import DomainError
from core.text import lazy_percent

TUS_VERSION = "1.0.0"


def _tus(response: HttpResponse) -> HttpResponse:
    response["Tus-Resumable"] = TUS_VERSION
    response["Cache-Control"] = "no-store"
    return response


def _error(status: int, message) -> HttpResponse:
    return _tus(HttpResponse(str(message), status=status, content_type="text/plain; charset=utf-8"))


def _name_file(response: HttpResponse, upload: Upload) -> HttpResponse:
    """A finished upload names the file it became (programs read its checks at /api/v1/provider/…/files/<id>/)."""
    if upload.datafile_id:
        response["Data-File-Id"] = str(upload.datafile_id)
    return response


def _throttled(throttle_class, request) -> HttpResponse | None:
    throttle = throttle_class()
    if throttle.allow_request(request, None):
        return None
    response = _error(429, _("Too many requests: wait and try again (see Retry-After)."))
    response["Retry-After"] = str(int((throttle.wait() or 1) + 0.999))
    return response


def _with_key(request) -> HttpResponse | None:
    """Authenticate an API key as the API does; None when the request may go on (or sent no key)."""
    try:
        found = ApiTokenAuthentication().authenticate(request)
    except AuthenticationFailed as exc:
        # Guessing keys here counts against the address, as on the API.
        refused = _throttled(PerIPThrottle, request) or _error(401, getattr(exc, "lazy_message", exc.detail))
        refused["WWW-Authenticate"] = 'Token realm="api"'
        return refused
    if found is None:
        return None
    request.user, request.auth = found
    if throttled := _throttled(PerTokenThrottle, request):
        return throttled
    if "publish" not in request.auth.scopes:
        return _error(403, lazy_percent(_("This API key needs the %(scope)s scope for this."), {"scope": "publish"}))
    return None


def _with_session(request) -> HttpResponse | None:
    if not request.user.is_authenticated:
        response = _error(401, _("Sign in or send an API key (Authorization: Token …)."))
        response["WWW-Authenticate"] = 'Token realm="api"'
        return response
    # The view is exempt from the middleware's check (for keys): the session's requests are checked here, the same way.
    check = CsrfViewMiddleware(lambda request: None)
    check.process_request(request)
    if check.process_view(request, None, (), {}) is not None:
        return _error(403, _("The session's CSRF token is missing or wrong: reload the page, or use an API key."))
    return None


def key_or_session(view):
    """A program's API key, else the browser's session with its CSRF token; refusals are plain text, like the
    rest of the endpoint (the browser shows them as they are)."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        request.auth = None
        refused = _with_key(request)
        if refused is None and request.auth is None:
            refused = _with_session(request)
        if refused is not None:
            return _tus(refused)
        try:
            response = view(request, *args, **kwargs)
        except PermissionDenied as exc:
            response = _error(403, exc.args[0] if exc.args and exc.args[0] else _("You are not allowed to do this."))
        except Http404:
            response = _error(404, _("Not found."))
        record_key_write(request, response.status_code, token=request.auth)  # as every API view does (core.api.views)
        return response

    return wrapper


def _metadata(header: str) -> dict[str, str]:
    result = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, value = pair.partition(" ")
        try:
            result[key] = base64.b64decode(value).decode("utf-8") if value else ""
        except (binascii.Error, UnicodeDecodeError):
            result[key] = ""
    return result


@never_cache
@key_or_session
@require_http_methods(["OPTIONS", "POST"])
def create(request):
    if request.method == "OPTIONS":
        response = HttpResponse(status=204)
        response["Tus-Version"] = TUS_VERSION
        response["Tus-Extension"] = "creation,termination"
        response["Tus-Max-Size"] = str(settings.UPLOAD_MAX_BYTES)
        return _tus(response)
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        return _error(412, "Tus-Resumable 1.0.0 required")
    try:
        length = int(request.headers.get("Upload-Length", ""))
    except ValueError:
        return _error(400, "Upload-Length required")
    meta = _metadata(request.headers.get("Upload-Metadata", ""))
    try:
        version_id = int(meta.get("version", ""))
    except ValueError:
        return _error(400, "version metadata required")
    version = selectors.version_get_for_publisher(user=request.user, pk=version_id)
    replaces = None
    if meta.get("replaces"):
        try:
            replaces = selectors.provider_version_file(version, int(meta["replaces"]))
        except ValueError:
            replaces = None
        if replaces is None:
            return _error(400, "replaces: not a file of this version")
    try:
        upload = services.upload_create(
            actor=request.user, version=version, filename=meta.get("filename", ""), length=length, replaces=replaces
        )
    except DomainError as exc:
        return _error(413 if exc.code == "too_large" else 400, exc.message)
    response = HttpResponse(status=201)
    response["Location"] = reverse("catalog:upload", args=[upload.pk])
    return _tus(response)


@never_cache
@key_or_session
@require_http_methods(["HEAD", "PATCH", "DELETE", "OPTIONS"])
def resource(request, pk):
    upload = selectors.upload_get_for_publisher(user=request.user, pk=pk)
    if request.method == "OPTIONS":
        return _tus(HttpResponse(status=204))
    if request.method == "HEAD":
        if upload.state == Upload.State.ABORTED:
            return _error(410, "")
        response = HttpResponse(status=200)
        response["Upload-Offset"] = str(upload.offset)
        response["Upload-Length"] = str(upload.length)
        return _tus(_name_file(response, upload))
    if request.method == "DELETE":
        services.upload_abort(actor=request.user, upload=upload)
        return _tus(HttpResponse(status=204))
    # PATCH
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        return _error(412, "Tus-Resumable 1.0.0 required")
    if request.content_type != "application/offset+octet-stream":
        return _error(415, "Content-Type application/offset+octet-stream required")
    if upload.state == Upload.State.ABORTED:
        return _error(410, "upload cancelled")
    try:
        offset = int(request.headers.get("Upload-Offset", ""))
    except ValueError:
        return _error(400, "Upload-Offset required")
    if upload.state == Upload.State.COMPLETE:
        return _finished(upload, offset)
    try:
        upload = services.upload_append(actor=request.user, upload=upload, offset=offset, stream=request)
    except services.OffsetMismatch as exc:
        return _error(409, exc.message)
    except DomainError as exc:
        upload.refresh_from_db()
        if upload.state == Upload.State.COMPLETE:
            return _finished(upload, offset)  # another request (a retry racing this one) finished it meanwhile
        return _error(400, exc.message)
    response = HttpResponse(status=204)
    response["Upload-Offset"] = str(upload.offset)
    return _tus(_name_file(response, upload))


def _finished(upload: Upload, offset: int) -> HttpResponse:
    """A PATCH to an upload that is already a file (a retry of the last piece, or one racing the request that
    finished it): what tus answers for a resource at its final offset. The client's offset is that one (nothing
    more to send): 204; else 409, and the client's HEAD then finds the upload complete."""
    if offset != upload.length:
        return _error(409, lazy_percent(_("The upload is at byte %(offset)s."), {"offset": upload.offset}))
    response = HttpResponse(status=204)
    response["Upload-Offset"] = str(upload.offset)
    return _tus(_name_file(response, upload))
