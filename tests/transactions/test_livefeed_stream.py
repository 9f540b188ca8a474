"""Buyers read live rows within 2 s of the append: by a Server-Sent Events stream (a real server, read with requests),
resumed with Last-Event-ID, capped per process (503 + Retry-After), and closed when the live access ends (403)."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.live import services as live
from tests.catalog.live_fixtures import make_live_table, row
from tests.transactions.livefeed_helpers import SseReader, subscribe, wait_until
from transactions.models import Entitlement

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def feed(live_server, settings, official, admin_user, buyer, reference_data, make_key):
    settings.LIVE_STREAM_MAX_SECONDS = 8
    settings.LIVE_STREAM_KEEPALIVE_SECONDS = 1
    table = make_live_table(official, admin_user)
    entitlement = subscribe(buyer, table.dataset)
    key = make_key(buyer, scopes=("read",))
    url = f"{live_server.url}/api/v1/data/{table.dataset.slug}/live/{table.name}/stream"
    readers = []

    def open_stream(**headers):
        reader = SseReader(url, {"Authorization": f"Token {key}", **headers})
        readers.append(reader)
        return reader

    yield table, entitlement, open_stream, url
    for reader in readers:
        reader.close()
    # The server's generators end at their next write or at LIVE_STREAM_MAX_SECONDS; wait so the database flush
    # does not meet them.
    from transactions.livefeed import stream

    wait_until(lambda: stream.slots.open == 0, timeout=12)


def test_a_stream_receives_an_appended_row_within_two_seconds(feed, official):
    table, _entitlement, open_stream, _url = feed
    reader = open_stream()
    assert reader.response.status_code == 200
    assert reader.response.headers["Content-Type"].startswith("text/event-stream")
    assert wait_until(lambda: reader.comments, timeout=3)  # the stream is open
    latencies = []
    for n in range(3):
        started = time.monotonic()
        live.live_rows_append(actor=official, table=table, idempotency_key=f"k{n}", rows=[row(pm=40 + n)])
        assert wait_until(lambda n=n: len(reader.rows()) >= n + 1, timeout=2.0), "no row within 2 s"
        latencies.append(reader.rows()[n]["at"] - started)
    assert [e["id"] for e in reader.rows()] == ["1", "2", "3"]
    assert reader.rows()[0]["data"] == {
        "seq": 1,
        "data": {"측정소명": "정왕동", "측정일시": "2026-12-05T14:00:00", "미세먼지": 40},
    }
    assert max(latencies) < 2.0
    print(f"SSE latency: max {max(latencies) * 1000:.0f} ms")


def test_last_event_id_resumes_after_the_last_row_seen(feed, official):
    table, _entitlement, open_stream, _url = feed
    live.live_rows_append(actor=official, table=table, idempotency_key="a", rows=[row(pm=1), row(pm=2), row(pm=3)])
    reader = open_stream(**{"Last-Event-ID": "2"})
    assert wait_until(lambda: reader.rows(), timeout=2)
    assert [e["id"] for e in reader.rows()] == ["3"]


def test_streams_per_process_are_capped_with_503_and_retry_after(feed, settings):
    settings.LIVE_STREAM_MAX_PER_PROCESS = 1
    _table, _entitlement, open_stream, _url = feed
    first = open_stream()
    assert first.response.status_code == 200
    second = open_stream()
    assert second.response.status_code == 503
    assert second.response.headers["Retry-After"] == "5"
    assert second.response.json()["error"]["code"] == "streams_full"


def test_the_stream_stops_when_the_entitlement_ends(feed, official):
    table, entitlement, open_stream, _url = feed
    reader = open_stream()
    assert wait_until(lambda: reader.comments, timeout=3)
    Entitlement.objects.filter(pk=entitlement.pk).update(valid_until=timezone.now() - timedelta(seconds=1))
    ended = wait_until(lambda: [e for e in reader.events if e.get("event") == "end"], timeout=4)
    assert ended and ended[0]["data"] == {"reason": "no_access"}
    live.live_rows_append(actor=official, table=table, idempotency_key="late", rows=[row()])
    again = open_stream()
    assert again.response.status_code == 403
    assert reader.rows() == []


def test_without_live_access_the_stream_is_refused(live_server, official, admin_user, buyer, reference_data, make_key):
    table = make_live_table(official, admin_user)
    key = make_key(buyer, scopes=("read",))
    url = f"{live_server.url}/api/v1/data/{table.dataset.slug}/live/{table.name}/stream"
    reader = SseReader(url, {"Authorization": f"Token {key}"})
    assert reader.response.status_code == 403
    assert "실시간" in reader.response.json()["error"]["message_ko"]


def test_a_resume_point_that_is_not_a_row_number_is_a_400_and_holds_no_slot(feed):
    """Last-Event-ID or since= that is not a whole number was taken as 0 (the client got the whole table again);
    now a 400 naming it, in Korean and English, before a stream slot or a metered call is taken."""
    from transactions.livefeed import stream

    _table, _entitlement, open_stream, _url = feed
    for headers in ({"Last-Event-ID": "abc"}, {"Last-Event-ID": "-5"}, {"Last-Event-ID": "1e3"}):
        refused = open_stream(**headers)
        assert refused.response.status_code == 400, headers
        error = refused.response.json()["error"]
        assert error["code"] == "bad_since" and headers["Last-Event-ID"] in error["message_en"]
        assert error["message_ko"] != error["message_en"]
    assert stream.slots.open == 0
    assert open_stream(**{"Last-Event-ID": "0"}).response.status_code == 200
