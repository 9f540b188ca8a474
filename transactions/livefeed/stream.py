"""The Server-Sent Events generator of a live table (no Django views here: transactions.livefeed.views wires it).

One stream holds one web-server thread (gunicorn gthread) for its whole life, so a process serves at most
LIVE_STREAM_MAX_PER_PROCESS streams at once (`slots`), each ends after LIVE_STREAM_MAX_SECONDS (the client's
EventSource reconnects on its own, with Last-Event-ID), and no database transaction stays open between reads.

Wake-up: Redis pub/sub on `live:<table_id>` (catalog.live.notify); without a message the stream still reads
PostgreSQL every LIVE_STREAM_POLL_SECONDS, so a lost message or a Redis outage costs at most that delay."""

import json
import logging
import threading
import time

import redis
from django.conf import settings
from django.db import close_old_connections

from catalog.live import notify
from catalog.live import selectors as live_selectors

logger = logging.getLogger(__name__)


class Slots:
    """A per-process cap on open streams (a non-blocking semaphore with a release that runs once)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.open = 0

    def take(self) -> bool:
        with self._lock:
            if self.open >= settings.LIVE_STREAM_MAX_PER_PROCESS:
                return False
            self.open += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.open = max(0, self.open - 1)


slots = Slots()


class Release:
    def __init__(self):
        self.done = False

    def __call__(self):
        if not self.done:
            self.done = True
            slots.give_back()


def _event(seq: int, row: dict) -> str:
    return f"id: {seq}\nevent: row\ndata: {json.dumps(row, ensure_ascii=False, separators=(',', ':'))}\n\n"


def events(*, table, since: int, still_allowed, release: Release, max_seconds: float | None = None, done=None):
    """Yield the SSE text: every row with seq > since as `event: row` (id = seq, data = {"seq", "data"}), keep-alive
    comments, and at the end (max duration, or the access ended) a last event saying why. `done(nbytes)` is called
    once when the stream ends (the metering counts the stream as one call with its bytes)."""
    sent = 0
    inner = _events(table=table, since=since, still_allowed=still_allowed, max_seconds=max_seconds)
    try:
        for text in inner:
            sent += len(text.encode("utf-8"))
            yield text
    finally:
        inner.close()  # its Redis subscription ends now, not when garbage-collected
        release()
        if done is not None:
            try:
                done(sent)
            except Exception:  # noqa: BLE001  (counting must never break the end of a stream)
                logger.warning("live stream usage not counted", exc_info=True)


def _events(*, table, since: int, still_allowed, max_seconds: float | None):
    pubsub = None
    try:
        try:
            pubsub = notify.client().pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(notify.channel(table.pk))
        except redis.RedisError:
            logger.warning("live stream without Redis: polling", extra={"table_id": table.pk})
            pubsub = None
        yield f"retry: 2000\n: stream of {table.name} from seq {since}\n\n"
        started = last_write = last_check = time.monotonic()
        deadline = started + (max_seconds if max_seconds is not None else settings.LIVE_STREAM_MAX_SECONDS)
        cursor = since
        poll = settings.LIVE_STREAM_POLL_SECONDS
        while time.monotonic() < deadline:
            if time.monotonic() - last_check >= 2.0:
                last_check = time.monotonic()
                if not still_allowed():
                    yield 'event: end\ndata: {"reason":"no_access"}\n\n'
                    return
            rows = live_selectors.rows_after(table, cursor, limit=500)
            close_old_connections()
            if rows:
                for item in live_selectors.for_buyers(table, rows):
                    yield _event(item["seq"], item)
                cursor = rows[-1][0]
                last_write = time.monotonic()
                continue
            if time.monotonic() - last_write >= settings.LIVE_STREAM_KEEPALIVE_SECONDS:
                yield ": keep-alive\n\n"
                last_write = time.monotonic()
            # Woken by Redis at once; the database is read again every 2 s anyway (a lost message), and every
            # LIVE_STREAM_POLL_SECONDS when Redis is away.
            wait = min(poll if pubsub is None else max(poll, 2.0), max(0.0, deadline - time.monotonic()))
            if pubsub is not None:
                try:
                    pubsub.get_message(timeout=wait)
                    continue
                except redis.RedisError:
                    pubsub = None
            time.sleep(wait)
        yield 'event: end\ndata: {"reason":"max_duration"}\n\n'
    finally:
        if pubsub is not None:
            try:
                pubsub.close()
            except redis.RedisError:
                pass
