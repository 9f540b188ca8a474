"""Review of the buyers' live feeds (issue 16): a stream that fails to open gives its slot back (Redis down), a stream
ends when its API key is revoked, and webhooks never reach a private address, whatever the name resolves to when
the delivery is sent."""

import time

import pytest
import redis
from django.utils import timezone

from accounts.models import ApiToken
from catalog.live import services as live
from tests.catalog.live_fixtures import make_live_table, row
from tests.transactions.livefeed_helpers import SseReader, subscribe, wait_until
from transactions.dataapi import metering
from transactions.livefeed import stream


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
    for _attempt in range(2):
        try:
            assert api.get(_url(table)).status_code == 500
        except redis.ConnectionError:
            pass  # the test client re-raises the server's error
    assert stream.slots.open == 0
    monkeypatch.undo()  # Redis is back: streams open again (no slot was lost)
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
