"""Downloads: signed, expiring links; HTTP Range on the streaming path (and curl -C - resuming through
a real server); refusals that never leak a byte; the download log; the nginx and S3 handoffs."""

import hashlib
import os
import random
import re
import socket
import string
import subprocess
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from django.core.files import storage
from django.core.files.storage import FileSystemStorage, Storage
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date

from catalog.models import Dataset
from tests.conftest import make_org, make_user
from tests.transactions.conftest import offer_of, place_order
from transactions.delivery import downloads, services
from transactions.models import DownloadEvent, Entitlement, Order, Package
from transactions.tasks import build_package

# (`storage.default_storage`, never `default_storage` imported here: see test_packaging.py.)
ROOT = Path(__file__).resolve().parents[2]


def _csv(rows=60_000, seed=7) -> str:
    """~3.4 MB of numbers and random ids that deflate only ~2.5×: the ZIP spans more than one 1 MiB chunk."""
    rng = random.Random(seed)
    lines = ["측정소명,측정일시,미세먼지,오존,관측ID"]
    for i in range(rows):
        lines.append(
            f"정왕동,2024-06-{1 + i % 28:02d} {i % 24:02d}:00,{rng.randint(0, 999)},{rng.random():.6f},"
            + "".join(rng.choices(string.ascii_letters, k=12))
        )  # letters: no number looks like an RRN
    return "\n".join(lines) + "\n"


@pytest.fixture
def package(buyer, publish):
    """A ready package of a free dataset the buyer took, built in-process by the real task code."""
    dataset = publish(csv_text=_csv())
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package = Package.objects.get(entitlement__order_item__order=order)
    assert build_package.apply(args=[package.pk]).get() == "ready"
    package.refresh_from_db()
    assert package.size > downloads.CHUNK + 100_000
    return package


def _bytes(package) -> bytes:
    with storage.default_storage.open(package.file.name, "rb") as fh:
        return fh.read()


def _link(buyer, package) -> str:
    return services.download_link(user=buyer, package=package)


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.django_db
def test_the_whole_file_with_its_headers(client, buyer, package):
    response = client.get(_link(buyer, package), HTTP_USER_AGENT="pytest-agent", REMOTE_ADDR="203.0.113.9")
    body = _body(response)
    assert response.status_code == 200 and body == _bytes(package)
    assert hashlib.sha256(body).hexdigest() == package.sha256
    assert response["Content-Length"] == str(package.size)
    assert response["Accept-Ranges"] == "bytes" and response["ETag"] == f'"{package.sha256}"'
    assert response["Content-Type"] == "application/zip"
    slug, number = package.version.dataset.slug, package.version.number
    assert response["Content-Disposition"] == (
        f"attachment; filename=\"{slug}-v{number}.zip\"; filename*=UTF-8''"
        + quote(f"{package.version.title_ko} v{number}.zip", safe="")
    )
    event = DownloadEvent.objects.get()
    assert (event.status, event.bytes_sent, event.completed, event.via) == (200, package.size, True, "stream")
    assert (event.ip, event.user_agent, event.user, event.range_header) == ("203.0.113.9", "pytest-agent", buyer, "")
    assert Dataset.objects.get(pk=package.version.dataset_id).download_count == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header, start, end",
    [  # a negative position counts from the end of the file
        ("bytes=0-99", 0, 99),  # the first bytes
        ("bytes=1048570-1048600", 1048570, 1048600),  # across a 1 MiB chunk boundary
        ("bytes=-500", -500, -1),  # suffix
        ("bytes=700000-", 700000, -1),  # open-ended
        ("bytes=100-999999999999", 100, -1),  # an end past the file is clipped
    ],
)
def test_a_single_range_returns_exactly_those_bytes(client, buyer, package, header, start, end):
    size = package.size
    start, end = start % size, end % size
    response = client.get(_link(buyer, package), HTTP_RANGE=header)
    body = _body(response)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{end}/{size}"
    assert response["Content-Length"] == str(end - start + 1)
    assert body == _bytes(package)[start : end + 1]
    event = DownloadEvent.objects.get()
    assert (event.status, event.range_header, event.bytes_sent, event.completed) == (206, header, end - start + 1, True)
    # Only a response that delivers the last byte counts as a download.
    assert Dataset.objects.get(pk=package.version.dataset_id).download_count == (1 if end == size - 1 else 0)


@pytest.mark.django_db
def test_an_unsatisfiable_range_gets_416_and_no_bytes(client, buyer, package):
    for header in (f"bytes={package.size}-", "bytes=-0"):
        response = client.get(_link(buyer, package), HTTP_RANGE=header)
        assert response.status_code == 416
        assert response["Content-Range"] == f"bytes */{package.size}"
        assert _body(response) == b""


@pytest.mark.django_db
def test_if_range_decides_between_the_range_and_the_whole_file(client, buyer, package):
    url = _link(buyer, package)
    stale = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"0000"')
    assert stale.status_code == 200 and _body(stale) == _bytes(package)  # changed since: all of it
    weak = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=f'W/"{package.sha256}"')
    assert weak.status_code == 200  # weak validators never satisfy If-Range
    _body(weak)
    same = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=f'"{package.sha256}"')
    assert same.status_code == 206 and _body(same) == _bytes(package)[:10]
    dated = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=http_date(package.finished_at.timestamp()))
    assert dated.status_code == 206 and _body(dated) == _bytes(package)[:10]


@pytest.mark.django_db
def test_several_ranges_or_a_bad_range_header_get_the_whole_file(client, buyer, package):
    url = _link(buyer, package)
    for header in ("bytes=0-9,20-29", "bytes=9-0", "items=0-9", "bytes=abc"):
        response = client.get(url, HTTP_RANGE=header)
        assert response.status_code == 200 and response["Content-Length"] == str(package.size), header
        assert _body(response) == _bytes(package)


def test_range_parsing_edge_cases():
    parse, R = downloads.parse_range, downloads.ByteRange
    assert parse(None, 10) is None and parse("", 10) is None
    assert parse("bytes=0-0", 10) == R(0, 0)
    assert parse("BYTES = 3 - 5", 10) == R(3, 5)
    assert parse("bytes=-20", 10) == R(0, 9)  # a suffix longer than the file: all of it
    assert parse("bytes=10-", 10) == downloads.UNSATISFIABLE
    assert parse("bytes=-1", 0) == downloads.UNSATISFIABLE
    assert parse("bytes=5-2", 10) is None and parse("bytes=-", 10) is None and parse("bytes=1-2,", 10) == R(1, 2)


@pytest.mark.django_db
def test_half_then_the_rest_joins_into_the_package(client, buyer, package):
    """Download half, then the rest from where it stopped with Range (what `curl -C -` and browsers
    do on resuming): the joined bytes are the package, and it counts as one download."""
    url = _link(buyer, package)
    half = package.size // 2
    first = client.get(url, HTTP_RANGE=f"bytes=0-{half - 1}")
    received = _body(first)
    assert first.status_code == 206 and len(received) == half
    rest = client.get(url, HTTP_RANGE=f"bytes={half}-", HTTP_IF_RANGE=first["ETag"])
    assert rest.status_code == 206
    assert hashlib.sha256(received + _body(rest)).hexdigest() == package.sha256
    assert Dataset.objects.get(pk=package.version.dataset_id).download_count == 1


@pytest.mark.django_db
def test_a_dropped_connection_records_what_was_sent(buyer, package):
    """When the client goes away the server closes the response: what was handed to it is recorded,
    and the download did not complete (nor count)."""
    request = RequestFactory().get("/", HTTP_USER_AGENT="curl/8")
    event = services.download_started(package=package, user=buyer, request=request, status=200, via="stream")
    fh = storage.default_storage.open(package.file.name, "rb")
    body = downloads.RangeFile(
        fh, 0, package.size, on_close=downloads._recorder(package, event, length=package.size, reached_end=True)
    )
    assert len(body.read(downloads.CHUNK)) == downloads.CHUNK  # handed to the server
    body.close()  # the write failed: the server closes the response
    assert fh.closed
    event.refresh_from_db()
    assert (event.bytes_sent, event.completed) == (downloads.CHUNK, False)
    assert Dataset.objects.get(pk=package.version.dataset_id).download_count == 0


def _sendfile_through_a_socket(path, start, length, *, read_limit=None):
    """What gunicorn does with the body: socket.sendfile(file, offset=its position, count=Content-Length),
    over a real socket; the reader may stop early (the client goes away). Returns (received, sent)."""
    sender, receiver = socket.socketpair()
    received = bytearray()
    recorded = []

    def read():
        while read_limit is None or len(received) < read_limit:
            data = receiver.recv(1 << 16)
            if not data:
                break
            received.extend(data)
        receiver.close()

    reader = threading.Thread(target=read)
    reader.start()
    body = downloads.RangeFile(open(path, "rb"), start, length, on_close=recorded.append, sendfile=True)
    offset = os.lseek(body.fileno(), 0, os.SEEK_CUR)
    try:
        sender.sendfile(body, offset=offset, count=length)
    except OSError:
        pass  # broken pipe: the client went away
    finally:
        sender.close()
        body.close()
        reader.join()
    return bytes(received), recorded[0]


@pytest.mark.django_db
def test_sendfile_bodies_record_exactly_what_was_sent(package):
    """Under gunicorn the range leaves by os.sendfile; socket.sendfile's documented seek() tells how
    much, whether the client took everything or went away."""
    path = storage.default_storage.path(package.file.name)
    data = _bytes(package)
    received, sent = _sendfile_through_a_socket(path, 1000, 500_000)
    assert received == data[1000:501_000] and sent == 500_000
    received, sent = _sendfile_through_a_socket(path, 0, package.size, read_limit=100_000)
    assert 0 < sent < package.size  # what the kernel accepted before the reader left


@pytest.mark.django_db(transaction=True)
def test_curl_resumes_through_a_real_server(
    celery_worker, live_server, official, admin_user, buyer, reference_data, tmp_path
):
    """The real thing: a published dataset, a package built by a real worker, a real HTTP server, and
    curl fetching the first megabyte, then `curl -C -` for the rest."""
    from tests.transactions.conftest import publish_dataset

    dataset = publish_dataset(official, admin_user, csv_text=_csv())
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    deadline = time.monotonic() + 60
    while not Package.objects.filter(entitlement__order_item__order=order, state="ready").exists():
        assert time.monotonic() < deadline, "the worker did not build the package"
        time.sleep(0.2)
    package = Package.objects.get(entitlement__order_item__order=order)
    url = live_server.url + _link(buyer, package)
    target = tmp_path / "package.zip"
    first = subprocess.run(
        ["curl", "-sS", "-f", "-r", "0-999999", "-o", str(target), url], capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    assert target.stat().st_size == 1_000_000
    rest = subprocess.run(
        ["curl", "-sS", "-f", "-C", "-", "-o", str(target), "-D", str(tmp_path / "headers"), url],
        capture_output=True,
        text=True,
    )
    assert rest.returncode == 0, rest.stderr
    headers = (tmp_path / "headers").read_text()
    assert headers.startswith("HTTP/1.1 206") and f"bytes 1000000-{package.size - 1}/{package.size}" in headers
    digest = subprocess.run(["sha256sum", str(target)], capture_output=True, text=True).stdout.split()[0]
    assert digest == package.sha256
    # The server records the end of a stream just after the last byte left (curl may be done first).
    while DownloadEvent.objects.filter(completed=False).exists() and time.monotonic() < deadline + 10:
        time.sleep(0.05)
    events = list(DownloadEvent.objects.order_by("id").values_list("status", "bytes_sent", "completed"))
    assert events == [(206, 1_000_000, True), (206, package.size - 1_000_000, True)]
    assert Dataset.objects.get(pk=dataset.pk).download_count == 1


@pytest.fixture
def gunicorn_server(transactional_db, settings):
    """The portal under gunicorn (as scripts/stack.py and docker-compose run it), on this test's
    database and private storage; yields its base URL."""
    from django.db import connection

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x"))
    env = dict(
        os.environ,
        DATABASE_URL=url._replace(path="/" + connection.settings_dict["NAME"]).geturl(),
        PRIVATE_STORAGE_ROOT=str(storage.default_storage.location),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DOWNLOAD_BACKEND="stream",
        LOG_LEVEL="WARNING",
        DJANGO_SECRET_KEY=settings.SECRET_KEY,
    )
    server = subprocess.Popen(
        [
            os.sys.executable,
            "-m",
            "gunicorn",
            "marketplace.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.django_db(transaction=True)
def test_gunicorn_sends_ranges_with_sendfile_and_the_log_is_exact(
    celery_worker, gunicorn_server, official, admin_user, buyer, reference_data, tmp_path
):
    """Under gunicorn the bytes leave by os.sendfile: ranges, resuming with curl -C - and the
    download log (bytes per response, one download counted) are the same as on the read() path."""
    from tests.transactions.conftest import publish_dataset

    dataset = publish_dataset(official, admin_user, csv_text=_csv())
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    deadline = time.monotonic() + 60
    while not Package.objects.filter(entitlement__order_item__order=order, state="ready").exists():
        assert time.monotonic() < deadline, "the worker did not build the package"
        time.sleep(0.2)
    package = Package.objects.get(entitlement__order_item__order=order)
    url = gunicorn_server + _link(buyer, package)
    target = tmp_path / "package.zip"
    first = subprocess.run(
        ["curl", "-sS", "-f", "-r", "0-999999", "-o", str(target), url], capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    rest = subprocess.run(
        ["curl", "-sS", "-f", "-C", "-", "-o", str(target), "-D", str(tmp_path / "headers"), url],
        capture_output=True,
        text=True,
    )
    assert rest.returncode == 0, rest.stderr
    assert f"bytes 1000000-{package.size - 1}/{package.size}" in (tmp_path / "headers").read_text()
    assert (
        subprocess.run(["sha256sum", str(target)], capture_output=True, text=True).stdout.split()[0] == package.sha256
    )
    whole = subprocess.run(
        ["curl", "-sS", "-f", "-o", str(tmp_path / "again.zip"), "-D", str(tmp_path / "h2"), url],
        capture_output=True,
        text=True,
    )
    assert whole.returncode == 0 and (tmp_path / "again.zip").read_bytes() == target.read_bytes()
    assert "gunicorn" in (tmp_path / "h2").read_text().lower()  # (it was gunicorn that answered)
    while DownloadEvent.objects.filter(completed=False).exists() and time.monotonic() < deadline + 10:
        time.sleep(0.05)
    events = list(DownloadEvent.objects.order_by("id").values_list("status", "bytes_sent", "completed"))
    assert events == [(206, 1_000_000, True), (206, package.size - 1_000_000, True), (200, package.size, True)]
    assert Dataset.objects.get(pk=dataset.pk).download_count == 2  # the resumed one, and the whole one


# --- Refusals ------------------------------------------------------------------------------------


def _refused(response, status):
    body = _body(response)
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert b"PK\x03\x04" not in body and "Content-Disposition" not in response
    assert not DownloadEvent.objects.exists()


@pytest.fixture
def rival(db):
    """A buyer of another verified company."""
    user = make_user("rival@other.test", name="경쟁사")
    make_org(user, name_ko="(주)다른회사", name_en="Other Co", kind="consumer", brn="2208162517")
    return user


@pytest.mark.django_db
def test_forged_expired_and_foreign_links_are_refused_without_a_byte(client, buyer, rival, package):
    link = _link(buyer, package)
    token = link.rstrip("/").rsplit("/", 1)[1]
    forged = link.replace(token, token[:-1] + ("A" if token[-1] != "A" else "B"))
    _refused(client.get(forged), 403)
    tampered = downloads.sign(
        package_id=package.pk, user_id=buyer.pk, organization_id=package.entitlement.organization_id
    )
    _refused(client.get(reverse("transactions:package_download", args=[tampered.replace(":", ";", 1)])), 403)

    expired = downloads.sign(
        package_id=package.pk, user_id=buyer.pk, organization_id=package.entitlement.organization_id, ttl=-1
    )
    _refused(client.get(reverse("transactions:package_download", args=[expired])), 410)

    # A link made out to another organization's user, or naming another organization.
    for user_id, org_id in (
        (rival.pk, rival.active_organization_id),
        (rival.pk, package.entitlement.organization_id),
        (buyer.pk, rival.active_organization_id),
    ):
        token = downloads.sign(package_id=package.pk, user_id=user_id, organization_id=org_id)
        _refused(client.get(reverse("transactions:package_download", args=[token])), 403)

    # The buyer's genuine link, opened by someone signed in for another organization.
    client.force_login(rival)
    _refused(client.get(link), 403)
    client.logout()

    # A refunded purchase, and a package that expired.
    Entitlement.objects.filter(pk=package.entitlement_id).update(revoked_at=timezone.now())
    _refused(client.get(link), 403)
    Entitlement.objects.filter(pk=package.entitlement_id).update(revoked_at=None)
    Package.objects.filter(pk=package.pk).update(state="expired")
    _refused(client.get(link), 410)


@pytest.mark.django_db
def test_links_are_made_for_buyers_of_the_organization_only(client, buyer, rival, outsider, admin_user, package):
    url = reverse("transactions:package_link", args=[package.pk])
    for stranger in (rival, outsider, admin_user):
        client.force_login(stranger)
        assert client.post(url).status_code == 403
    client.force_login(buyer)
    response = client.post(url)
    assert response.status_code == 303
    assert re.fullmatch(r"/orders/delivery/download/[^/]+/", response["Location"])
    download = client.get(response["Location"])
    assert download.status_code == 200 and hashlib.sha256(_body(download)).hexdigest() == package.sha256
    # A link for a package still being built is refused with a message, not a file.
    Package.objects.filter(pk=package.pk).update(state="building")
    refused = client.post(url, {"next": "/orders/"})
    assert refused.status_code == 302 and refused["Location"] == "/orders/"


@pytest.mark.django_db
def test_head_answers_the_headers_without_a_body_or_a_log_entry(client, buyer, package):
    response = client.head(_link(buyer, package))
    assert response.status_code == 200 and response["Content-Length"] == str(package.size)
    assert _body(response) == b"" and not DownloadEvent.objects.exists()


# --- Handoffs --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_x_accel_hands_the_file_to_nginx_without_a_body(client, buyer, package, settings):
    settings.DOWNLOAD_BACKEND = "x-accel"
    response = client.get(_link(buyer, package), HTTP_RANGE="bytes=0-9")
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == "/protected/" + quote(package.file.name)
    assert response["Content-Disposition"].startswith("attachment;") and response["Content-Type"] == "application/zip"
    event = DownloadEvent.objects.get()
    assert (event.via, event.range_header, event.bytes_sent) == ("x-accel", "bytes=0-9", 0)


def test_nginx_serves_the_x_accel_prefix_internally_from_the_private_storage(settings):
    """deploy/nginx.conf has the internal location the prefix names, aliasing the volume that
    docker-compose mounts as the private storage."""
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    prefix = settings.DOWNLOAD_X_ACCEL_PREFIX
    block = re.search(r"location\s+" + re.escape(prefix) + r"\s*\{(.*?)\}", conf, re.S)
    assert block and re.search(r"^\s*internal;", block[1], re.M)
    alias = re.search(r"alias\s+(\S+);", block[1])[1]
    compose = (ROOT / "docker-compose.yml").read_text()
    assert f"private:{alias.rstrip('/')}:ro" in compose and "PRIVATE_STORAGE_ROOT: /app/var/private" in compose
    assert "private:/app/var/private" in compose


class S3LikeStorage(Storage):
    """Stands in for django-storages' S3Storage (outside the project): builds the URL a presigned GET
    would have, without credentials or network."""

    bucket_name = "siheung-packages"

    def url(self, name, parameters=None, expire=None, http_method=None):
        query = "&".join(
            f"{k}={quote(str(v), safe='')}" for k, v in {**(parameters or {}), "X-Amz-Expires": expire}.items()
        )
        return f"https://s3.example.test/{self.bucket_name}/{quote(name)}?{query}"


def test_the_backend_chooser(settings):
    local = FileSystemStorage(location="/tmp")
    settings.DOWNLOAD_BACKEND = "stream"
    assert downloads.choose_backend(local) == "stream"
    assert downloads.choose_backend(S3LikeStorage()) == "presigned"  # S3 decides, whatever the setting
    settings.DOWNLOAD_BACKEND = "x-accel"
    assert downloads.choose_backend(local) == "x-accel"
    assert downloads.choose_backend(S3LikeStorage()) == "presigned"
    settings.DOWNLOAD_BACKEND = "presigned"
    assert downloads.choose_backend(local) == "stream"  # no S3 to presign with
    settings.DOWNLOAD_BACKEND = "stream"
    assert downloads.choose_backend() == "stream"  # the configured default storage is local here


@pytest.mark.django_db
def test_on_s3_the_download_redirects_to_a_presigned_url(buyer, package, settings):
    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.4")
    response = downloads.respond(request, package, user=buyer, storage=S3LikeStorage())
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    query = parse_qs(location.query)
    assert location.path == f"/siheung-packages/{quote(package.file.name)}"
    assert query["X-Amz-Expires"] == [str(settings.PRESIGNED_URL_SECONDS)]
    assert query["ResponseContentType"] == ["application/zip"]
    disposition = unquote(query["ResponseContentDisposition"][0])
    assert disposition.startswith("attachment;") and f"{package.version.title_ko} v1.zip" in unquote(disposition)
    event = DownloadEvent.objects.get()
    assert (event.via, event.status, event.ip) == ("presigned", 302, "198.51.100.4")
    assert Dataset.objects.get(pk=package.version.dataset_id).download_count == 1  # handed off whole


@pytest.mark.django_db
def test_the_order_fragment_offers_the_download_and_stops_polling_when_ready(client, buyer, package):
    order = Order.objects.get(items__entitlement__packages=package)
    client.force_login(buyer)
    html = client.get(reverse("transactions:order_live", args=[order.number])).content.decode()
    assert f'action="{reverse("transactions:package_link", args=[package.pk])}"' in html
    assert package.sha256 in html and "hx-trigger" not in html
    Package.objects.filter(pk=package.pk).update(state="building", progress=42, heartbeat_at=timezone.now())
    html = client.get(reverse("transactions:order_live", args=[order.number])).content.decode()
    assert 'hx-trigger="every 2s"' in html and 'aria-valuenow="42"' in html and "42%" in html
    client.force_login(make_user(f"{uuid.uuid4().hex[:6]}@nobody.test"))
    assert (
        client.get(reverse("transactions:order_live", args=[order.number])).status_code == 403
    )  # no buyer role anywhere
