"""Reachability of the database, Redis and at least one Celery worker, for /healthz.

Two scopes. "all" (the default, for monitoring): the database, Redis and a worker; 503 when any is down, because the
site then cannot finish what it promises (checks, packages, e-mails). "web" (`/healthz?scope=web`, for the web
container's own health check and a load balancer): only what this process needs to answer requests, the database and
Redis; a stopped worker must not take every web node out of service."""

import time

import redis
from django.conf import settings
from django.db import connection

from marketplace.celery import app as celery_app


def _timed(check):
    started = time.perf_counter()
    try:
        detail = check()
        status = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "down", reported with its reason
        detail = f"{type(exc).__name__}: {exc}"
        status = "down"
    return {"status": status, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1)}


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def check_redis():
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
        return "pong"
    finally:
        client.close()


_WORKER_CACHE_SECONDS = 10.0
_last_worker_ok: dict = {"at": -1e9, "names": []}


def check_worker():
    """At least one worker answers a ping. A success is remembered for 10 s, so a probe hitting
    /healthz every second does not broadcast a ping (and wait for answers) every second."""
    now = time.monotonic()
    if now - _last_worker_ok["at"] < _WORKER_CACHE_SECONDS:
        return _last_worker_ok["names"]
    replies = celery_app.control.ping(timeout=1.0, limit=1)
    if not replies:
        raise RuntimeError("no Celery worker answered within 1 s")
    names = sorted(name for reply in replies for name in reply)
    _last_worker_ok.update(at=now, names=names)
    return names


SCOPES = ("all", "web")


def health_report(*, detail: bool = True, scope: str = "all") -> tuple[bool, dict]:
    checks = {"database": _timed(check_database), "redis": _timed(check_redis)}
    if scope == "web":
        pass  # this process's own dependencies only
    elif checks["redis"]["status"] == "ok":
        checks["worker"] = _timed(check_worker)
    else:
        # The broker is Redis: without it no worker can be asked, and asking would hang on retries.
        checks["worker"] = {"status": "down", "detail": "broker (Redis) unreachable", "ms": 0.0}
    healthy = all(c["status"] == "ok" for c in checks.values())
    if not detail:  # anonymous probes learn the state, not hostnames or error texts
        checks = {name: {"status": c["status"], "ms": c["ms"]} for name, c in checks.items()}
    return healthy, checks
