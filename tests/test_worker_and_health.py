import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import pytest
import redis
from django.conf import settings
from django.core import mail
from django.db import connection
from django.urls import reverse

from accounts import services
from bench.webserver import free_port, start_celery_worker, start_gunicorn, stop, wait_celery_worker
from marketplace.tasks import ping_task

ROOT = Path(__file__).resolve().parent.parent


def test_task_round_trips_through_a_real_worker(celery_worker):
    """Not eager: the task is serialised to Redis, run by the worker thread, and its result read back."""
    from marketplace.celery import app

    assert not app.conf.task_always_eager
    result = ping_task.delay(21)
    value = result.get(timeout=20)
    assert value["value"] == 42
    assert value["pid"] == os.getpid()  # run by this run's worker thread, not a stray worker elsewhere
    assert result.status == "SUCCESS"


def _process_group(pgid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def test_bench_celery_worker_runs_its_own_queue_and_stops_with_its_pool(tmp_path):
    """bench/webserver.start_celery_worker (bench/load.py, bench/soak.py): a real prefork worker on a queue of the
    bench's own answers a ping, runs a task sent to that queue in its pool child, and stop() leaves no process of its
    group behind."""
    queue = f"test-bench-{uuid.uuid4().hex[:8]}"
    worker = start_celery_worker(queue, env={"VAR_DIR": str(tmp_path)}, concurrency=1)
    try:
        wait_celery_worker(worker, timeout=90)
        pool = [int(c) for c in Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()]
        result = ping_task.apply_async(args=[21], queue=queue).get(timeout=30)
        assert result["value"] == 42
        assert result["pid"] in pool  # prefork: run by the pool child, not the worker's main process nor this one
        assert sorted(_process_group(worker.pid)) == sorted([worker.pid, *pool])
    finally:
        stop(worker)
    assert worker.returncode is not None
    assert _process_group(worker.pid) == []


def test_decision_email_is_sent_by_the_worker_after_commit(celery_worker, admin_user, outsider):
    org = services.organization_register(
        actor=outsider,
        brn="211-86-08983",
        name_ko="모빌리티(주)",
        name_en="Mobility",
        kind="consumer",
        org_type="company",
        contact_email="o@test.example",
    )
    services.organization_reject(actor=admin_user, organization=org, reason="등록증 사본이 흐립니다")
    deadline = time.monotonic() + 20
    while len(mail.outbox) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    by_recipient = {tuple(m.to): m for m in mail.outbox}
    assert set(by_recipient) == {(admin_user.email,), (outsider.email,)}  # one each: asked, then decided
    assert "등록증 사본이 흐립니다" in by_recipient[(outsider.email,)].body
    assert "반려" in by_recipient[(outsider.email,)].subject


def test_healthz_is_green_with_everything_up(celery_worker, client):
    response = client.get(reverse("healthz"))
    body = response.json()
    assert response.status_code == 200, body
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "redis": "ok",
        "worker": "ok",
    }


@pytest.mark.django_db
def test_healthz_is_503_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    started = time.monotonic()
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["redis"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok"
    assert time.monotonic() - started < 5  # a dead dependency must not hang the probe


@pytest.mark.django_db
def test_healthz_hides_details_from_anonymous_probes(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    body = client.get(reverse("healthz")).json()
    assert body["checks"]["redis"] == {"status": "down", "ms": body["checks"]["redis"]["ms"]}  # no error text


def _redis_db_nobody_uses() -> int:
    """A Redis database no client is connected to (so no Celery worker listens for pings on it)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        busy = {int(c["db"]) for c in client.client_list()}
        databases = int(client.config_get("databases")["databases"])
    finally:
        client.close()
    return max(set(range(databases)) - busy)


@pytest.mark.django_db(transaction=True)
def test_web_scope_stays_green_when_no_worker_is_up_while_the_full_check_is_503(tmp_path):
    """The web container's health check (/healthz?scope=web, docker-compose.yml) must not fail because the workers
    are down: a gunicorn whose Celery broker has no worker at all answers 200 there and 503 on plain /healthz."""
    url = urlsplit(os.environ.get("DATABASE_URL") or settings.DATABASE_URL)
    broker = urlunsplit(urlsplit(settings.REDIS_URL)._replace(path=f"/{_redis_db_nobody_uses()}"))
    port = free_port()
    web = start_gunicorn(
        port,
        env={
            "DATABASE_URL": urlunsplit(url._replace(path="/" + quote(connection.settings_dict["NAME"]))),
            "CELERY_BROKER_URL": broker,
            "CELERY_RESULT_BACKEND": broker,
            "DJANGO_SECRET_KEY": "health-test-key",
            "VAR_DIR": str(tmp_path),
        },
        workers=1,
    )
    try:
        base = f"http://127.0.0.1:{port}/healthz"
        full = httpx.get(base, timeout=30)
        assert full.status_code == 503 and full.json()["checks"]["worker"]["status"] == "down"
        web_only = httpx.get(base + "?scope=web", timeout=30)
        assert web_only.status_code == 200, web_only.text
        assert web_only.json() == {
            "status": "ok",
            "scope": "web",
            "checks": {"database": {"status": "ok", "ms": web_only.json()["checks"]["database"]["ms"]},
                       "redis": {"status": "ok", "ms": web_only.json()["checks"]["redis"]["ms"]}},
        }  # fmt: skip
        assert httpx.get(base + "?scope=nonsense", timeout=30).status_code == 400
        # docker-compose's health check of web (deploy/healthcheck.py) is green here; pointed at the full check, red.
        script = [sys.executable, str(ROOT / "deploy" / "healthcheck.py")]
        env = {**os.environ, "DJANGO_ALLOWED_HOSTS": "127.0.0.1,data.example.kr"}
        assert subprocess.run(script, env={**env, "HEALTHCHECK_URL": base + "?scope=web"}).returncode == 0
        assert subprocess.run(script, env={**env, "HEALTHCHECK_URL": base}, capture_output=True).returncode == 1
    finally:
        stop(web)


@pytest.mark.django_db
def test_web_scope_is_503_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get(reverse("healthz") + "?scope=web")
    assert response.status_code == 503 and response.json()["checks"]["redis"]["status"] == "down"
