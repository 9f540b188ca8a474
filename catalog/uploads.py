"""The tus 1.0 endpoint for resumable uploads (core protocol + creation + termination).

tus-js-client in the browser creates an upload (POST), learns the offset after a dropped
connection or a reload (HEAD) and sends the rest (PATCH). Bytes are streamed from the request
to a private staging file; nothing is read whole into memory. See https://tus.io/protocols/resumable-upload.
"""

import base64
import binascii

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from catalog import selectors, services
from catalog.models import Upload
from core.errors import DomainError, NotAllowed

TUS_VERSION = "1.0.0"


def _tus(response: HttpResponse) -> HttpResponse:
    response["Tus-Resumable"] = TUS_VERSION
    response["Cache-Control"] = "no-store"
    return response


def _error(status: int, message) -> HttpResponse:
    return _tus(HttpResponse(str(message), status=status, content_type="text/plain; charset=utf-8"))


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
@login_required
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
            replaces = version.files.filter(pk=int(meta["replaces"])).first()
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
@login_required
@require_http_methods(["HEAD", "PATCH", "DELETE", "OPTIONS"])
def resource(request, pk):
    upload = get_object_or_404(Upload, pk=pk)
    if upload.created_by_id != request.user.pk:
        raise NotAllowed
    if request.method == "OPTIONS":
        return _tus(HttpResponse(status=204))
    if request.method == "HEAD":
        if upload.state == Upload.State.ABORTED:
            return _error(410, "")
        response = HttpResponse(status=200)
        response["Upload-Offset"] = str(upload.offset)
        response["Upload-Length"] = str(upload.length)
        return _tus(response)
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
    try:
        upload = services.upload_append(actor=request.user, upload=upload, offset=offset, stream=request)
    except services.OffsetMismatch as exc:
        return _error(409, exc.message)
    except DomainError as exc:
        return _error(400, exc.message)
    response = HttpResponse(status=204)
    response["Upload-Offset"] = str(upload.offset)
    return _tus(response)
