import os
import time

import pytest
from django.core import mail
from django.urls import reverse

from accounts import services
from marketplace.tasks import ping_task


def test_task_round_trips_through_a_real_worker(celery_worker):
    """Not eager: the task is serialised to Redis, run by the worker thread, and its result read back."""
    from marketplace.celery import app

    assert not app.conf.task_always_eager
    result = ping_task.delay(21)
    value = result.get(timeout=20)
    assert value["value"] == 42
    assert value["pid"] == os.getpid()  # run by this run's worker thread, not a stray worker elsewhere
    assert result.status == "SUCCESS"


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
