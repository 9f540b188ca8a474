"""Helpers of the live feed tests: a subscribed buyer, an SSE reader in a thread, a real local webhook receiver."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from django.db import transaction

from tests.transactions.conftest import offer_of, place_order
from transactions.models import Entitlement, Order
from transactions.services import orders as order_services


def subscribe(user, dataset) -> Entitlement:
    order = place_order(user, offer_of(dataset, "subscription"), method="bank_transfer")
    with transaction.atomic():
        order_services.order_mark_paid(order=Order.objects.select_for_update().get(pk=order.pk))
    return Entitlement.objects.get(order_item__order=order)


def wait_until(predicate, timeout: float = 5.0, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


class SseReader:
    """Reads a Server-Sent Events response in a thread; `events` are dicts {"id", "event", "data", "at"}."""

    def __init__(self, url: str, headers: dict):
        self.response = requests.get(url, headers={"Accept": "text/event-stream", **headers}, stream=True, timeout=30)
        self.events: list[dict] = []
        self.comments: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        if self.response.status_code == 200:
            self.thread.start()
        else:
            _body = self.response.content  # kept for .json()
            self.response.close()  # or the server's thread would wait on the kept-alive socket with its DB connection

    def _read(self):
        current: dict = {}
        try:
            for raw in self.response.iter_lines(chunk_size=1, decode_unicode=True):
                line = raw if raw is not None else ""
                if line == "":
                    if current:
                        current["at"] = time.monotonic()
                        self.events.append(current)
                        current = {}
                    continue
                if line.startswith(":"):
                    self.comments.append(line)
                    continue
                field, _sep, value = line.partition(": ")
                current[field] = json.loads(value) if field == "data" else value
        except (requests.RequestException, AttributeError, ValueError):
            pass

    def rows(self):
        return [e for e in self.events if e.get("event") == "row"]

    def close(self):
        self.response.close()


class Receiver:
    """A real webhook endpoint on 127.0.0.1: answers with the next status of `statuses` (then 200), records every
    request (headers, body, time)."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802  (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append({"headers": dict(self.headers), "body": body, "at": time.monotonic()})
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
