"""Signed webhooks: the new rows reach a real local HTTP endpoint within 2 s with a valid Standard Webhooks signature,
a 500 is retried (same webhook-id) until a 2xx, and nothing is delivered once the organization's live access ended."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.live import services as live
from tests.catalog.live_fixtures import make_live_table, row
from tests.transactions.livefeed_helpers import Receiver, subscribe, wait_until
from transactions.livefeed import services as feeds
from transactions.livefeed import signing
from transactions.livefeed.models import WebhookDelivery
from transactions.models import Entitlement

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hooked(celery_worker, settings, official, admin_user, buyer, reference_data):
    settings.LIVE_WEBHOOK_BACKOFF_SECONDS = 1
    settings.LIVE_WEBHOOK_ALLOW_HTTP = settings.LIVE_WEBHOOK_ALLOW_PRIVATE = True  # the receiver is local
    table = make_live_table(official, admin_user)
    entitlement = subscribe(buyer, table.dataset)
    receivers = []

    def endpoint(statuses=()):
        receiver = Receiver(statuses)
        receivers.append(receiver)
        made, secret = feeds.webhook_endpoint_create(
            actor=buyer, organization=buyer.active_organization, table=table, url=receiver.url
        )
        return receiver, made, secret

    yield table, entitlement, endpoint
    for receiver in receivers:
        receiver.close()


def test_new_rows_are_delivered_signed_within_two_seconds(hooked, official):
    table, _entitlement, endpoint = hooked
    receiver, made, secret = endpoint()
    assert secret.startswith("whsec_")
    started = time.monotonic()
    live.live_rows_append(actor=official, table=table, idempotency_key="k", rows=[row(pm=7), row(pm=8)])
    assert wait_until(lambda: receiver.requests, timeout=2.0), "no delivery within 2 s"
    got = receiver.requests[0]
    print(f"webhook latency: {(got['at'] - started) * 1000:.0f} ms")
    assert got["at"] - started < 2.0
    headers = {k.lower(): v for k, v in got["headers"].items()}
    assert headers["webhook-signature"].startswith("v1,")
    assert signing.verify(secret, headers, got["body"])
    assert not signing.verify(signing.new_secret(), headers, got["body"])  # another secret does not verify
    payload = json.loads(got["body"])
    assert payload["type"] == "live.rows"
    assert payload["data"]["table"] == table.name
    assert [r["seq"] for r in payload["data"]["rows"]] == [1, 2]
    assert payload["data"]["rows"][0]["data"]["미세먼지"] == 7
    delivery = wait_until(lambda: WebhookDelivery.objects.filter(endpoint=made, state="delivered").first())
    assert delivery.attempts == 1 and delivery.response_code == 200


def test_a_500_is_retried_with_the_same_id_until_it_is_accepted(hooked, official):
    table, _entitlement, endpoint = hooked
    receiver, made, secret = endpoint(statuses=[500])
    live.live_rows_append(actor=official, table=table, idempotency_key="k", rows=[row()])
    assert wait_until(lambda: len(receiver.requests) >= 2, timeout=8)
    first, second = receiver.requests[:2]
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    assert second["at"] - first["at"] >= 0.9  # the back-off (1 s here) was waited
    assert all(signing.verify(secret, r["headers"], r["body"]) for r in (first, second))
    delivery = wait_until(lambda: WebhookDelivery.objects.filter(endpoint=made, state="delivered").first())
    assert delivery.attempts == 2 and delivery.response_code == 200


def test_nothing_is_delivered_after_the_entitlement_ended(hooked, official):
    table, entitlement, endpoint = hooked
    receiver, made, _secret = endpoint()
    live.live_rows_append(actor=official, table=table, idempotency_key="before", rows=[row()])
    assert wait_until(lambda: receiver.requests, timeout=2.0)
    Entitlement.objects.filter(pk=entitlement.pk).update(valid_until=timezone.now() - timedelta(seconds=1))
    live.live_rows_append(actor=official, table=table, idempotency_key="after", rows=[row()])
    time.sleep(1.5)  # a delivery would have arrived by now (they take ~0.1 s)
    assert len(receiver.requests) == 1
    assert not WebhookDelivery.objects.filter(endpoint=made, first_seq=2).exclude(state="cancelled").exists()


@pytest.mark.django_db(transaction=False)
def test_webhooks_by_api_show_the_secret_once_and_need_live_access(
    api, official, admin_user, buyer, reference_data, make_key, settings
):
    settings.LIVE_WEBHOOK_ALLOW_HTTP = False
    settings.LIVE_WEBHOOK_ALLOW_PRIVATE = False
    table = make_live_table(official, admin_user)
    api.with_key(make_key(buyer, scopes=("buy",)))
    body = {"dataset": table.dataset.slug, "table": table.name, "url": "https://8.8.8.8/siheung"}
    refused = api.post("/api/v1/webhooks/", body, format="json")
    assert refused.status_code == 403  # no subscription: no live access
    subscribe(buyer, table.dataset)
    assert api.post("/api/v1/webhooks/", {**body, "url": "http://8.8.8.8/x"}, format="json").status_code == 400
    local = api.post("/api/v1/webhooks/", {**body, "url": "https://127.0.0.1/x"}, format="json")
    assert local.status_code == 400 and local.json()["error"]["code"] == "url_private"
    made = api.post("/api/v1/webhooks/", body, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["secret"].startswith("whsec_")
    listed = api.get("/api/v1/webhooks/").json()["webhooks"]
    assert [w["url"] for w in listed] == [body["url"]] and "secret" not in listed[0]
    off = api.post(f"/api/v1/webhooks/{made.json()['id']}/deactivate")
    assert off.status_code == 200 and off.json()["active"] is False


@pytest.mark.django_db(transaction=False)
def test_a_delivery_whose_sender_was_lost_is_sent_again(official, admin_user, buyer, reference_data, settings):
    settings.LIVE_WEBHOOK_ALLOW_HTTP = settings.LIVE_WEBHOOK_ALLOW_PRIVATE = True
    table = make_live_table(official, admin_user)
    subscribe(buyer, table.dataset)
    made, _secret = feeds.webhook_endpoint_create(
        actor=buyer, organization=buyer.active_organization, table=table, url="http://127.0.0.1:9/hook"
    )
    live.live_rows_append(actor=official, table=table, idempotency_key="k", rows=[row()])
    [delivery_id] = feeds.webhooks_fanout(table_id=table.pk)
    claimed = feeds.webhook_delivery_claim(delivery_id=delivery_id)
    assert claimed is not None
    assert feeds.webhook_delivery_claim(delivery_id=delivery_id) is None  # taken: no second sender
    WebhookDelivery.objects.filter(pk=delivery_id).update(leased_until=timezone.now() - timedelta(seconds=1))
    assert feeds.webhooks_housekeeping() == [delivery_id]  # the worker was lost: pending again, due now
    _delivery, lease = feeds.webhook_delivery_claim(delivery_id=delivery_id)
    assert feeds.webhook_delivery_finish(delivery_id=delivery_id, lease=claimed[1], status_code=200) is None
    assert WebhookDelivery.objects.get(pk=delivery_id).state == "sending"  # the old lease cannot finish it
    feeds.webhook_delivery_finish(delivery_id=delivery_id, lease=lease, status_code=204)
    delivered = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivered.state == "delivered" and delivered.attempts == 2
