"""Several web and worker nodes against one PostgreSQL, one Redis and one storage (issue 18, "More than one machine").

Two web processes (gunicorn) and two Celery workers run as subprocesses, each with local directories of its own
(VAR_DIR, UPLOAD_STAGING_DIR, PACKAGE_WORK_DIR, QUERYSTORE_CACHE_DIR, TMPDIR, ...), all on this run's test
database, its Redis and either moto's S3 server or one folder that stands for a volume every node mounts. The
workers consume a queue of this test only (this process sends its tasks there too), so no other worker takes them.

The journey: a file is uploaded with tus, its PATCHes alternating between the two web processes (one of them cut
off mid-body, one refused while the other node still sends), and arrives with the SHA-256 of the bytes sent; its
checks run on a worker; published and bought (services, in this process), its package is built by one worker and
downloaded through both web processes, byte for byte. Nothing of it stays on a node's own disk.
"""

import base64
import hashlib
import os
import random
import signal
import socket
import string
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.core.files import storage
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse

from catalog import services as catalog_services
from catalog.models import DataFile, Licence, Theme, Upload
from catalog.querystore.models import QueryStore, StoreState
from tests.s3 import make_bucket, s3_client, s3_env, s3_server, s3_storages  # noqa: F401  (s3_server: a fixture)
from tests.transactions.conftest import offer_of, place_order
from transactions.models import Package

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
TUS = {"Tus-Resumable": "1.0.0"}
NODE_DIRS = ("UPLOAD_STAGING_DIR", "PACKAGE_WORK_DIR", "QUERYSTORE_CACHE_DIR", "QUERYSTORE_WORK_DIR",
             "INGEST_WORK_DIR", "LIVE_CACHE_DIR", "TMPDIR")  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    url = urlsplit(os.environ.get("DATABASE_URL") or django_settings.DATABASE_URL)
    return urlunsplit(url._replace(path="/" + quote(connection.settings_dict["NAME"])))


def _csv(rows=40_000, seed=18) -> bytes:
    rng = random.Random(seed)
    lines = ["측정소명,측정일시,미세먼지,오존,관측ID"]
    for i in range(rows):
        lines.append(
            f"정왕동,2024-06-{1 + i % 28:02d} {i % 24:02d}:00,{rng.randint(0, 999)},{rng.random():.6f},"
            + "".join(rng.choices(string.ascii_letters, k=12))
        )
    return ("\n".join(lines) + "\n").encode()


class Cluster:
    """The nodes: `web(i)` is the base URL of web process i; every node has its own local folders under `base`."""

    def __init__(self, base: Path, storage_env: dict[str, str], queue: str):
        self.base, self.queue = base, queue
        base.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen] = []
        self.webs: list[str] = []
        self.workers: list[tuple[str, Path]] = []
        self.common = {
            **os.environ,
            **storage_env,
            "DATABASE_URL": _database_url(),
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "DJANGO_SECRET_KEY": django_settings.SECRET_KEY,  # sessions and signed links made here are valid there
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "SITE_URL": "http://testserver",
            "MFA_REQUIRED_FOR_STAFF": "0",
            "EMAIL_MODE": "console+file",
            "LOG_LEVEL": "WARNING",
            "DB_CONN_MAX_AGE": "0",
        }

    def local_dirs(self, name: str) -> dict[str, str]:
        var = self.base / name
        dirs = {"VAR_DIR": str(var), **{key: str(var / key.lower()) for key in NODE_DIRS}}
        for path in dirs.values():
            Path(path).mkdir(parents=True, exist_ok=True)
        return dirs

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.base / f"{name}.log", "wb")
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**self.common, **self.local_dirs(name)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def start_web(self) -> str:
        name, port = f"web{len(self.webs)}", _free_port()
        argv = [sys.executable, "-m", "gunicorn", "marketplace.wsgi:application", "--bind", f"127.0.0.1:{port}",
                "--workers", "1", "--threads", "4", "--timeout", "120"]  # fmt: skip
        proc = self._spawn(name, argv)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, self.log(name)
                time.sleep(0.1)
        self.webs.append(f"http://127.0.0.1:{port}")
        return self.webs[-1]

    def start_worker(self) -> None:
        name = f"worker{len(self.workers)}"
        argv = [sys.executable, "-m", "celery", "-A", "marketplace", "worker", "-P", "solo", "-Q", self.queue,
                "-n", f"{name}-{self.queue}@%h", "--loglevel=INFO", "--without-gossip", "--without-mingle",
                "--without-heartbeat"]  # fmt: skip
        self._spawn(name, argv)
        self.workers.append((name, self.base / f"{name}.log"))

    def log(self, name: str) -> str:
        return (self.base / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        for proc in self.procs:
            for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(grace)
                    break
                except subprocess.TimeoutExpired:
                    continue

    def leftovers(self) -> list[Path]:
        """Files left in the nodes' own folders (logs, beat schedules and e-mails aside)."""
        found = []
        for node in self.base.iterdir():
            if node.is_dir():
                for key in NODE_DIRS:
                    found += [p for p in (node / key.lower()).rglob("*") if p.is_file()]
        return found


@pytest.fixture
def send_tasks_to():
    """Tasks this process queues (on commit of the services it calls) go to the nodes' queue."""
    from marketplace.celery import app

    previous = app.conf.task_default_queue
    queue = f"nodes-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    yield queue
    app.conf.task_default_queue = previous


def _tus_create(web, key, version, name, length) -> str:
    meta = ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}" for k, v in (("filename", name),
                                                                                    ("version", version.pk)))  # fmt: skip
    response = requests.post(
        f"{web}/catalog/uploads/",
        headers={**TUS, "Authorization": f"Token {key}", "Upload-Length": str(length), "Upload-Metadata": meta},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.headers["Location"]


def _patch(web, key, location, offset, body):
    return requests.patch(
        web + location,
        data=body,
        headers={
            **TUS,
            "Authorization": f"Token {key}",
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        },  # fmt: skip
        timeout=60,
    )


def _head_offset(web, key, location) -> int:
    response = requests.head(web + location, headers={**TUS, "Authorization": f"Token {key}"}, timeout=30)
    assert response.status_code == 200
    return int(response.headers["Upload-Offset"])


def _raw_patch(web, key, location, offset, declared: int, body: bytes) -> socket.socket:
    """A PATCH that declares `declared` bytes and has sent only `body` so far (the socket stays open)."""
    host, port = urlsplit(web).hostname, urlsplit(web).port
    sock = socket.create_connection((host, port), timeout=60)
    head = (
        f"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\nAuthorization: Token {key}\r\n"
        f"Upload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\n"
        f"Content-Length: {declared}\r\nConnection: close\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def _wait(predicate, what: str, timeout: float = 120.0, cluster: Cluster | None = None):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            logs = (
                "\n".join(f"--- {n}\n{cluster.log(n)}" for n in ("web0", "web1", "worker0", "worker1"))
                if cluster
                else ""
            )
            raise AssertionError(f"{what}: timed out\n{logs}")
        time.sleep(0.2)
    return value


def _journey(cluster: Cluster, *, official, admin_user, buyer, make_key, staged_names):
    web_a, web_b = cluster.webs
    key = make_key(official, scopes=("publish",))
    version = catalog_services.dataset_create(
        actor=official,
        organization=official.active_organization,
        title_ko="여러 노드의 대기질",
        title_en="Air quality on several nodes",
        description_ko="웹과 워커가 둘씩인 구성에서 올린 자료입니다.",
        theme=Theme.objects.get(code="environment"),
        tags="미세먼지",
        contact_name="정민준",
        contact_phone="031-310-2114",
        contact_email=official.email,
        update_cadence="daily",
        data_kind="public",
        licence=Licence.objects.get(code="kogl-1"),
    )
    data = _csv()
    a, b, c = 700_000, 1_300_000, 1_900_000
    location = _tus_create(web_a, key, version, "여러노드.csv", len(data))

    # 1. Web A receives the first PATCH; web B continues at the offset web A reached.
    assert _patch(web_a, key, location, 0, data[:a]).status_code == 204
    assert _head_offset(web_b, key, location) == a
    # 2. Web B's PATCH is cut off mid-body: the bytes that reached it are kept, web A tells where to go on.
    cut = _raw_patch(web_b, key, location, a, declared=b - a, body=data[a : a + 400_000])
    _wait(lambda: Upload.objects.filter(lease__isnull=False).exists(), "web B claims the upload", cluster=cluster)
    cut.close()
    got = _wait(lambda: (Upload.objects.filter(lease__isnull=True).exists() and _head_offset(web_a, key, location))
                or 0, "web B keeps what arrived", cluster=cluster)  # fmt: skip
    assert got == a + 400_000
    # 3. While web A is still receiving a PATCH, one sent to web B at the same time is refused (409), as on one node.
    slow = _raw_patch(web_a, key, location, got, declared=b - got, body=data[got : got + 100_000])
    _wait(lambda: Upload.objects.filter(lease__isnull=False).exists(), "web A claims the upload", cluster=cluster)
    busy = _patch(web_b, key, location, got, data[got:b])
    assert busy.status_code == 409 and busy.text == "다른 요청이 아직 이 파일을 전송하고 있습니다."  # (Korean first)
    slow.sendall(data[got + 100_000 : b])
    assert slow.recv(4096).startswith(b"HTTP/1.1 204")
    slow.close()
    assert _head_offset(web_b, key, location) == b
    # 4. The last two PATCHes alternate again; web A's last one completes the file.
    assert _patch(web_b, key, location, b, data[b:c]).status_code == 204
    done = _patch(web_a, key, location, c, data[c:])
    assert done.status_code == 204 and int(done.headers["Upload-Offset"]) == len(data), done.text
    upload = Upload.objects.get()
    assert upload.state == Upload.State.COMPLETE
    assert upload.datafile.sha256 == hashlib.sha256(data).hexdigest()
    with storage.default_storage.open(upload.datafile.file.name, "rb") as fh:
        assert hashlib.file_digest(fh, "sha256").hexdigest() == hashlib.sha256(data).hexdigest()
    assert not upload.chunks.exists()
    _wait(lambda: not staged_names(), "the staged chunks are deleted", cluster=cluster)

    # 5. Its checks run on a worker (no worker in this process consumes the nodes' queue).
    _wait(lambda: DataFile.objects.get(pk=upload.datafile_id).is_checked, "the checks of a worker", cluster=cluster)
    datafile = DataFile.objects.get(pk=upload.datafile_id)
    assert datafile.check_state == DataFile.Check.PASSED, datafile.check_state

    # 6. Published and bought through the services; a worker builds the package.
    catalog_services.offer_create(actor=official, dataset=version.dataset, kind="free")
    catalog_services.version_submit(actor=official, version=version, pii_justification="-")
    catalog_services.version_approve(actor=admin_user, version=version)
    order = place_order(buyer, offer_of(version.dataset, "free"), method="free")
    package = _wait(
        lambda: Package.objects.filter(entitlement__order_item__order=order, state="ready").first(),
        "a worker builds the package",
        cluster=cluster,
    )
    built_by = [
        name
        for name, log in cluster.workers
        if any("build_package[" in line and "succeeded" in line and "'ready'" in line for line in log.open())
    ]
    assert len(built_by) == 1, built_by

    # 7. The buyer asks web A for a link (their session, shared through PostgreSQL and Redis) and downloads through
    # web B, then through web A: the same bytes as the package's SHA-256.
    session = Client()
    session.force_login(buyer)
    cookies = {"sessionid": session.cookies["sessionid"].value, "csrftoken": "x" * 32}
    link = requests.post(
        f"{web_a}{reverse('transactions:package_link', args=[package.pk])}",
        cookies=cookies,
        headers={"X-CSRFToken": "x" * 32, "Referer": web_a + "/"},
        allow_redirects=False,
        timeout=30,
    )
    assert link.status_code == 303, link.text[:500]
    path = urlsplit(link.headers["Location"]).path
    for web in (web_b, web_a):
        response = requests.get(web + path, cookies=cookies, timeout=60)  # follows a presigned redirect to S3
        assert response.status_code == 200, response.text[:500]
        assert hashlib.sha256(response.content).hexdigest() == package.sha256
        assert len(response.content) == package.size
    # The publication also queued the version's query stores: a build still under way has its work folder (the
    # DuckDB file being written) on its node; once every build has ended nothing may be left there.
    _wait(
        lambda: not QueryStore.objects.exclude(state__in=[StoreState.READY, StoreState.FAILED]).exists(),
        "the query stores are built",
        cluster=cluster,
    )
    # Nothing a later request needs stayed on a node's disk (a build removes its work folder just after it ends).
    _wait(lambda: not cluster.leftovers(), "the nodes' own folders are empty", timeout=30, cluster=cluster)
    return package, built_by[0]


@pytest.fixture
def cluster_of(tmp_path, send_tasks_to):
    clusters = []

    def start(storage_env):
        cluster = Cluster(tmp_path / "nodes", storage_env, send_tasks_to)
        clusters.append(cluster)
        cluster.start_worker()
        cluster.start_worker()
        cluster.start_web()
        cluster.start_web()
        return cluster

    yield start
    for cluster in clusters:
        cluster.stop()


def test_two_web_and_two_worker_nodes_on_s3(
    s3_server,  # noqa: F811
    cluster_of,
    official,
    admin_user,
    buyer,
    make_key,
    reference_data,
):
    bucket = make_bucket(s3_server)
    client = s3_client(s3_server)

    def staged():
        listed = client.list_objects_v2(Bucket=bucket, Prefix="staging/")
        return [item["Key"] for item in listed.get("Contents", [])]

    with override_settings(STORAGE_BACKEND="s3", STORAGES=s3_storages(s3_server, bucket)):
        cluster = cluster_of(s3_env(s3_server, bucket))
        package, _ = _journey(
            cluster, official=official, admin_user=admin_user, buyer=buyer, make_key=make_key, staged_names=staged
        )
        head = client.head_object(Bucket=bucket, Key=package.file.name)
        assert head["ContentLength"] == package.size  # the package lives in the bucket


def test_two_web_and_two_worker_nodes_on_a_shared_volume(
    tmp_path, cluster_of, official, admin_user, buyer, make_key, reference_data
):
    shared = tmp_path / "shared-volume"
    shared.mkdir()
    default = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(shared)}}

    def staged():
        folder = shared / "staging" / "uploads"
        return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []

    with override_settings(STORAGES={**django_settings.STORAGES, "default": default}):
        cluster = cluster_of({"STORAGE_BACKEND": "filesystem", "PRIVATE_STORAGE_ROOT": str(shared),
                              "DOWNLOAD_BACKEND": "stream"})  # fmt: skip
        package, _ = _journey(
            cluster, official=official, admin_user=admin_user, buyer=buyer, make_key=make_key, staged_names=staged
        )
        assert (shared / package.file.name).stat().st_size == package.size
        assert not list(shared.rglob("*.part"))  # no partial package left beside it


def test_a_sweep_keeps_the_partial_of_an_attempt_that_claimed_the_build_meanwhile(tmp_path, settings):
    """On a shared volume, the sweep after a commit (a failed or requeued build) lists the partial files first and
    asks who holds the build after: an attempt of another node that claimed it before the listing keeps its file,
    one that claims it after writes a file the listing never saw."""
    from transactions.delivery import packaging

    settings.PACKAGE_WORK_DIR = str(tmp_path / "work")
    shared = storage.FileSystemStorage(location=tmp_path / "shared")
    name = "packages/1/2/air-v1.zip"
    folder = tmp_path / "shared" / "packages" / "1" / "2"
    folder.mkdir(parents=True)
    stale, holder, later = (folder / f".air-v1.zip.{uuid.uuid4().hex}.part" for _ in range(3))
    stale.write_bytes(b"killed attempt")
    holder.write_bytes(b"the attempt holding the build")

    def current_holder():
        later.write_bytes(b"an attempt that claimed after the listing")
        return holder.name.split(".")[-2]

    assert packaging.sweep_partials(name, keep=current_holder, storage=shared) == 1
    assert not stale.exists() and holder.exists() and later.exists()
