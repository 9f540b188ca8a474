"""Review of the buyers' live feeds (issue 16): a stream that fails to open gives its slot back (Redis down), a stream
ends when its API key is revoked, and webhooks never reach a private address, whatever the name resolves to when
the delivery is sent."""

import socket
import time

import pytest
import redis
from django.utils import timezone

from accounts.models import ApiToken
from catalog.live import services as live
from tests.catalog.live_fixtures import make_live_table, row
from tests.transactions.livefeed_helpers import Receiver, SseReader, subscribe, wait_until
from transactions.dataapi import metering
from transactions.livefeed import services as feeds
from transactions.livefeed import stream
from transactions.livefeed.models import WebhookDelivery


def _url(table):
    return f"/api/v1/data/{table.dataset.slug}/live/{table.name}/stream"


@pytest.mark.django_db
def test_a_stream_refused_by_a_failure_gives_its_slot_back(
    api, official, admin_user, buyer, reference_data, make_key, settings, monkeypatch
):
    settings.LIVE_STREAM_MAX_PER_PROCESS = 1
    table = make_live_table(official, admin_user)
    subscribe(buyer, table.dataset)
    api.with_key(make_key(buyer, scopes=("data",)))
    # Redis is down (nothing listens on port 1): the metering cannot count the call.
    monkeypatch.setattr(metering, "_client", redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5))
    monkeypatch.setattr(metering._local, "scripts", None, raising=False)
    for _attempt in range(2):
        refused = api.get(_url(table))
        assert refused.status_code == 503  # the call cannot be counted: refused with its reason, not a bare 500
        assert refused.json()["error"]["code"] == "metering_unavailable"
    assert stream.slots.open == 0
    monkeypatch.undo()  # Redis is back: streams open again (no slot was lost)
    metering._local.scripts = None
    answer = api.get(_url(table), HTTP_ACCEPT="text/event-stream")
    assert answer.status_code == 200, answer.content
    answer.close()
    assert stream.slots.open == 0


@pytest.mark.django_db(transaction=True)
def test_a_stream_ends_when_its_api_key_is_revoked(live_server, official, admin_user, buyer, reference_data, make_key):
    table = make_live_table(official, admin_user)
    subscribe(buyer, table.dataset)
    key = make_key(buyer, scopes=("data",))
    reader = SseReader(f"{live_server.url}{_url(table)}", {"Authorization": f"Token {key}"})
    try:
        assert reader.response.status_code == 200
        assert wait_until(lambda: reader.comments, timeout=3)
        ApiToken.objects.filter(user=buyer).update(revoked_at=timezone.now())
        ended = wait_until(lambda: [e for e in reader.events if e.get("event") == "end"], timeout=4)
        assert ended and ended[0]["data"] == {"reason": "no_access"}
        live.live_rows_append(actor=official, table=table, idempotency_key="late", rows=[row()])
        time.sleep(0.5)
        assert reader.rows() == []
    finally:
        reader.close()
        wait_until(lambda: stream.slots.open == 0, timeout=12)


@pytest.mark.django_db(transaction=True)
def test_a_webhook_is_not_sent_when_its_name_resolves_to_a_private_address_at_delivery(
    celery_worker, official, admin_user, buyer, reference_data, settings, monkeypatch
):
    settings.LIVE_WEBHOOK_ALLOW_HTTP = True
    settings.LIVE_WEBHOOK_ALLOW_PRIVATE = False
    settings.LIVE_WEBHOOK_MAX_ATTEMPTS = 1
    receiver = Receiver()  # listens on 127.0.0.1: what an attacker's name resolves to after the check
    port = receiver.url.split(":")[2].split("/")[0]
    real = socket.getaddrinfo
    answers = {"hooks.example.org": "93.184.216.34"}

    def resolve(host, *args, **kwargs):  # the outside DNS: public when the endpoint is made, then rebound
        if host in answers:
            return real(answers[host], *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    try:
        table = make_live_table(official, admin_user)
        subscribe(buyer, table.dataset)
        endpoint, _secret = feeds.webhook_endpoint_create(
            actor=buyer, organization=buyer.active_organization, table=table, url=f"http://hooks.example.org:{port}/h"
        )
        answers["hooks.example.org"] = "127.0.0.1"  # DNS rebinding
        live.live_rows_append(actor=official, table=table, idempotency_key="k", rows=[row()])
        delivery = wait_until(
            lambda: WebhookDelivery.objects.filter(endpoint=endpoint, state__in=("failed", "delivered")).first(),
            timeout=5,
        )
        assert receiver.requests == []  # nothing reached the private address
        assert delivery.state == "failed" and "private" in delivery.last_error
    finally:
        receiver.close()


@pytest.mark.django_db
def test_rows_whose_fanout_message_was_lost_are_queued_by_the_housekeeping(
    official, admin_user, buyer, reference_data, settings
):
    settings.LIVE_WEBHOOK_ALLOW_HTTP = settings.LIVE_WEBHOOK_ALLOW_PRIVATE = True
    table = make_live_table(official, admin_user)
    subscribe(buyer, table.dataset)
    endpoint, _secret = feeds.webhook_endpoint_create(
        actor=buyer, organization=buyer.active_organization, table=table, url="http://127.0.0.1:9/hook"
    )
    # In this test's transaction the after-commit fan-out never runs: as when its message is lost (broker down,
    # a worker killed before it acknowledged, a purge) and no other row comes to trigger the next one.
    live.live_rows_append(actor=official, table=table, idempotency_key="k", rows=[row(), row()])
    assert not WebhookDelivery.objects.exists()
    due = feeds.webhooks_housekeeping()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert due == [delivery.pk] and (delivery.first_seq, delivery.last_seq) == (1, 2)
