"""Downloads: expiring signed links, and the one function that decides how the ZIP leaves.

Links. `sign()` puts the package, the user, the organization and an expiry (now +
DOWNLOAD_LINK_TTL_SECONDS) into a token signed with SECRET_KEY and a salt of its own (django.core.signing),
so it can be used by anything that can follow a URL (browsers, curl -C -, download managers) without
a session. A changed token fails the signature (403), an old one is refused as expired (410); who may
still download is checked again at every request (transactions.delivery.services.download_authorize).

Backends (`choose_backend`):
- "stream" (the default, and the embedded set-up with no nginx): Django serves the file from storage
  with HTTP Range support: one range per request (`bytes=a-b`, `bytes=a-`, suffix `bytes=-n`) → 206
  with Content-Range; an unsatisfiable range → 416 with `Content-Range: bytes */size`; If-Range with
  our ETag (the ZIP's SHA-256) or the exact Last-Modified, otherwise the whole file. A request for
  several ranges is answered 200 with the whole file (RFC 9110 lets a server ignore Range;
  multipart/byteranges is used by no download client we know of, and curl, browsers and download
  managers resume with one range). Syntactically invalid Range headers are ignored the same way.
  The body is a RangeFile: read in 1 MiB chunks by any server, and sent with os.sendfile by gunicorn
  (measured: as fast as nginx with X-Accel-Redirect on the bench, 2.5× the chunked read when the
  client writes to disk on this 2-vCPU machine), with exact bytes_sent either way.
- "x-accel": behind nginx (deploy/nginx.conf, `location /protected/ { internal; alias /srv/private/; }`)
  Django only authorizes and answers `X-Accel-Redirect: DOWNLOAD_X_ACCEL_PREFIX + storage name`; nginx
  serves the bytes, Range included, and the Python worker is free at once.
- "presigned": chosen automatically when the default storage is S3 (django-storages): a redirect to a
  presigned GET URL valid PRESIGNED_URL_SECONDS, with the download name in ResponseContentDisposition, at the
  address browsers reach (S3_PUBLIC_ENDPOINT_URL, core.object_storage). S3 serves Range itself. A HEAD is not
  redirected (the URL is signed for GET: S3 would answer 403): the app answers it as the stream does, from one HEAD
  of the object, and records nothing.

Every response that hands out the file (or part of it) writes a DownloadEvent; a streamed one records
bytes_sent and completed when the response is closed (RangeFile.close, which every WSGI server calls,
also when the client went away). The handoffs cannot see the transfer: their event keeps bytes_sent 0, and a
handoff without Range counts as one download of the dataset.
"""

from __future__ import annotations

import io
import logging
import re
import time
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import http_date, parse_http_date_safe
from django.utils.translation import gettext as _

from core.storage import is_object_storage

# A module import: services imports this module too (a cycle by name would not load).
from transactions.delivery import services

logger = logging.getLogger(__name__)

SALT = "transactions.delivery.download-link"
CHUNK = 1 << 20
BACKENDS = ("stream", "x-accel", "presigned")


# --- Signed links ----------------------------------------------------------------------------------


class LinkInvalid(Exception):
    """Forged, altered or malformed: 403."""


class LinkExpired(Exception):
    """Genuine but past its expiry: 410."""


def sign(*, package_id: int, user_id: int, organization_id: int, ttl: int | None = None) -> str:
    return sign_until(package_id=package_id, user_id=user_id, organization_id=organization_id, ttl=ttl)[0]


def sign_until(*, package_id: int, user_id: int, organization_id: int, ttl: int | None = None) -> tuple[str, int]:
    """The token, and when it expires (Unix seconds): what `sign` makes, for callers that show the expiry."""
    expires = int(time.time()) + (settings.DOWNLOAD_LINK_TTL_SECONDS if ttl is None else ttl)
    token = signing.dumps({"p": package_id, "u": user_id, "o": organization_id, "e": expires}, salt=SALT)
    return token, expires


def unsign(token: str) -> dict:
    """The claims of a genuine, unexpired token; raises LinkInvalid or LinkExpired."""
    try:
        claims = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise LinkInvalid() from None
    if not isinstance(claims, dict) or not all(isinstance(claims.get(k), int) for k in ("p", "u", "o", "e")):
        raise LinkInvalid()
    if claims["e"] < time.time():
        raise LinkExpired()
    return claims


# --- Ranges ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


UNSATISFIABLE = "unsatisfiable"
_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


def parse_range(header: str | None, size: int):
    """One byte range of a `Range` header for a representation of `size` bytes.

    Returns a ByteRange, None (no usable Range: send the whole file — absent, another unit, invalid
    syntax, or several ranges), or UNSATISFIABLE (416)."""
    if not header:
        return None
    unit, sep, specs = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    parts = [p for p in specs.split(",") if p.strip()]
    if len(parts) != 1:
        return None
    match = _SPEC.match(parts[0])
    if not match or (not match[1] and not match[2]):
        return None
    first, last = match[1], match[2]
    if not first:  # suffix: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            return UNSATISFIABLE
        return ByteRange(max(0, size - n), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid: ignored
    if start >= size:
        return UNSATISFIABLE
    return ByteRange(start, min(end, size - 1))


def if_range_allows(if_range: str | None, etag: str, last_modified: int | None) -> bool:
    """RFC 9110 §13.1.5: honour Range only if the validator still names this file (a strong ETag
    match, or exactly the Last-Modified date); otherwise the whole file is sent (200)."""
    if not if_range:
        return True
    value = if_range.strip()
    if value.startswith('"') or value.startswith("W/"):
        return value == etag  # weak tags never match for If-Range
    date = parse_http_date_safe(value)
    return date is not None and last_modified is not None and date == last_modified


# --- Helpers ---------------------------------------------------------------------------------------


def download_names(package) -> tuple[str, str]:
    """(The Korean file name, an ASCII fallback) of the ZIP a buyer saves."""
    version = package.version
    title = unicodedata.normalize("NFC", version.title_ko)
    title = re.sub(r'[\\/:*?"<>|\x00-\x1f\x7f]+', " ", title).strip()[:120] or version.dataset.slug
    return f"{title} v{version.number}.zip", f"{version.dataset.slug}-v{version.number}.zip"


def content_disposition(filename: str, fallback: str) -> str:
    """attachment with an ASCII filename and the real one in RFC 5987/6266 filename*."""
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", fallback) or "package.zip"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def choose_backend(storage=None) -> str:
    """The one place that decides how downloads leave: presigned URLs whenever the storage is S3,
    otherwise DOWNLOAD_BACKEND ("stream" or "x-accel")."""
    storage = default_storage if storage is None else storage
    if is_object_storage(storage):
        return "presigned"
    backend = settings.DOWNLOAD_BACKEND
    if backend == "presigned":
        logger.warning("DOWNLOAD_BACKEND=presigned needs S3 storage; streaming instead")
        return "stream"
    if backend not in BACKENDS:
        logger.warning("unknown DOWNLOAD_BACKEND %r; streaming", backend)
        return "stream"
    return backend


# --- Responses -------------------------------------------------------------------------------------


def respond(request, package, *, user, storage=None):
    """The response that delivers `package` (already authorized) to `user`, by the chosen backend."""
    storage = default_storage if storage is None else storage
    backend = choose_backend(storage)
    if backend == "presigned" and request.method == "HEAD":
        # A presigned URL is signed for one method: S3 answers a HEAD on a GET's URL 403. The HEAD is answered here, as
        # the stream answers it (size, type, name, ETag, Range: one HEAD of the object), and is never a download.
        return _stream(request, package, user, storage)
    if backend == "presigned":
        return _presigned(request, package, user, storage)
    if backend == "x-accel":
        return _x_accel(request, package, user)
    return _stream(request, package, user, storage)


def refused(request, status: int, reason):
    """A refusal (403/410) as a page that says why and where to go: never a byte of the file."""
    response = render(
        request, "transactions/delivery/download_refused.html", {"status": status, "reason": reason}, status=status
    )
    response["Cache-Control"] = "private, no-store"
    return response


def _common_headers(response, package) -> None:
    filename, fallback = download_names(package)
    response["Content-Type"] = "application/zip"
    response["Content-Disposition"] = content_disposition(filename, fallback)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"


def _log(request, package, user, *, status: int, via: str, count: bool = False):
    if request.method == "HEAD":
        return None
    event = services.download_started(
        package=package,
        user=user,
        request=request,
        status=status,
        via=via,
        range_header=request.META.get("HTTP_RANGE", ""),
    )
    if count:
        services.download_finished(
            event_id=event.pk,
            bytes_sent=0,
            completed=False,
            reached_end=False,
            dataset_id=package.version.dataset_id,
            handoff=True,
        )
    return event


def _presigned(request, package, user, storage):
    filename, fallback = download_names(package)
    url = storage.url(
        package.file.name,
        parameters={
            "ResponseContentDisposition": content_disposition(filename, fallback),
            "ResponseContentType": "application/zip",
        },
        # Minutes, not the link's lifetime: the browser follows the redirect at once, and the signed URL is a bearer
        # credential to the object that our link (checked on every use) is not.
        expire=settings.PRESIGNED_URL_SECONDS,
    )
    _log(request, package, user, status=302, via="presigned", count="HTTP_RANGE" not in request.META)
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "private, no-store"
    return response


def _x_accel(request, package, user):
    response = HttpResponse(status=200)
    _common_headers(response, package)
    prefix = settings.DOWNLOAD_X_ACCEL_PREFIX.rstrip("/") + "/"
    response["X-Accel-Redirect"] = prefix + quote(package.file.name.lstrip("/"))
    _log(request, package, user, status=200, via="x-accel", count="HTTP_RANGE" not in request.META)
    return response


def _stream(request, package, user, storage):
    # Open first: a file missing from storage is answered 410 before any header promises bytes.
    try:
        fh = storage.open(package.file.name, "rb")
    except FileNotFoundError:
        logger.error("package file missing from storage", extra={"package": package.pk, "name": package.file.name})
        return refused(request, 410, _("This package's file is missing. Build it again from the order page."))
    size = fh.size
    if package.size is not None and size != package.size:
        logger.error("package file size differs from the database", extra={"package": package.pk, "size": size})
    etag = f'"{package.sha256}"' if package.sha256 else None
    last_modified = int(package.finished_at.timestamp()) if package.finished_at else None
    requested = parse_range(request.META.get("HTTP_RANGE"), size)
    if requested is not None and not if_range_allows(request.META.get("HTTP_IF_RANGE"), etag or "", last_modified):
        requested = None

    if requested == UNSATISFIABLE:
        fh.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        _log(request, package, user, status=416, via="stream")
        return response

    start, length, status = (requested.start, requested.length, 206) if requested else (0, size, 200)
    event = _log(request, package, user, status=status, via="stream")
    if request.method == "HEAD":
        fh.close()
        response = HttpResponse(status=status)
    else:
        body = RangeFile(
            fh,
            start,
            length,
            on_close=_recorder(package, event, length=length, reached_end=start + length == size),
            sendfile=_server_sends_files_safely(request),
        )
        response = _RangeFileResponse(body, status=status)
    _common_headers(response, package)
    response["Accept-Ranges"] = "bytes"
    response["Content-Length"] = str(length)
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
    if etag:
        response["ETag"] = etag
    if last_modified:
        response["Last-Modified"] = http_date(last_modified)
    return response


class RangeFile:
    """The bytes [start, start + length) of an open file, as the body of a response.

    Every WSGI server can read it: `read()` hands out at most 1 MiB at a time and never past the
    range (Django iterates it, or the server's wsgi.file_wrapper does). Under gunicorn it also offers
    its file descriptor, positioned at `start`, so gunicorn sends the range with os.sendfile
    (`socket.sendfile(file, offset, count=Content-Length)`): no bytes through Python, which on this
    2-vCPU machine more than doubles a download's speed when the client writes to disk
    (bench/delivery.py). socket.sendfile is documented to leave the file position at
    offset + bytes sent, on success and on error, by calling `seek()`: that call tells us how much left.

    `on_close(sent)` runs once, when the server closes the response (after the last byte, or when the
    client went away): it records the download. Memory stays flat whichever way the bytes leave.
    """

    mode = "rb"

    def __init__(self, fh, start: int, length: int, *, on_close, sendfile: bool = False):
        self._fh = fh
        self._start, self._end = start, start + length
        self._on_close, self._sendfile = on_close, sendfile
        self.sent = 0
        self.closed = False
        fh.seek(start)
        self._pos = start

    def fileno(self) -> int:
        if not self._sendfile:
            raise io.UnsupportedOperation("read() only")  # the server falls back to read()
        return self._fh.fileno()

    def read(self, size: int = -1) -> bytes:
        remaining = self._end - self._pos
        if remaining <= 0:
            return b""
        data = self._fh.read(remaining if size is None or size < 0 else min(size, remaining, CHUNK))
        self._pos += len(data)
        self.sent = max(self.sent, self._pos - self._start)
        return data

    def seek(self, position: int, whence: int = io.SEEK_SET) -> int:
        self._pos = self._fh.seek(position, whence)
        self.sent = max(self.sent, min(self._pos, self._end) - self._start)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self._fh.close()
        finally:
            self._on_close(self.sent)


class _RangeFileResponse(FileResponse):
    """A FileResponse whose headers (length, range, type, name) the view sets itself."""

    block_size = CHUNK

    def set_headers(self, filelike):
        pass


def _server_sends_files_safely(request) -> bool:
    """gunicorn sends a file_wrapper body with socket.sendfile, Content-Length bytes from the file's
    position, and seeks it to what was sent: the accounting above relies on exactly that. Other
    servers (runserver, the test client, uWSGI…) get read() only."""
    return request.META.get("SERVER_SOFTWARE", "").startswith("gunicorn/")


def _recorder(package, event, *, length: int, reached_end: bool):
    """What runs when the response is closed: how many bytes left, whether all did, and the count."""

    def on_close(sent: int) -> None:
        if event is None:
            return
        try:
            completed = sent == length
            services.download_finished(
                event_id=event.pk,
                bytes_sent=sent,
                completed=completed,
                reached_end=completed and reached_end,
                dataset_id=package.version.dataset_id,
            )
        except Exception:  # never turn a finished download into a server error
            logger.exception("could not record the end of a download", extra={"event": event.pk})

    return on_close
