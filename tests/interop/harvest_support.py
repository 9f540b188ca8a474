"""What the harvest tests share: a small local HTTP server standing in for another catalog (the only thing faked:
an outside server, behind its real HTTP interface), recorded fixtures, and sources and runs made with the ORM."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from accounts.models import Organization
from catalog.harvest.models import HarvestRun, HarvestSource

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_json(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class FakeSource:
    """A stdlib HTTP server in a thread. `routes(path, query) -> (status, content_type, body bytes)` answers each
    GET; every request is remembered in `requests` as (path, query)."""

    def __init__(self, routes, *, delay: float = 0.0):
        self.routes, self.delay, self.requests = routes, delay, []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the stdlib's name)
                split = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(split.query).items()}
                owner.requests.append((split.path, query))
                if owner.delay:
                    time.sleep(owner.delay)
                status, content_type, body = owner.routes(split.path, query)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def ckan_pages(packages: list, *, count: int | None = None):
    """Routes of a CKAN portal whose package_search pages through `packages` by start and rows."""

    def routes(path, query):
        if path not in ("/api/3/action/package_search", "/api/action/package_search"):
            return (
                404,
                "application/json",
                json.dumps({"success": False, "error": {"__type": "Not Found Error"}}).encode(),
            )
        start, rows = int(query.get("start", 0)), int(query.get("rows", 10))
        body = {
            "help": "http://ckan.example.test/api/3/action/help_show?name=package_search",
            "success": True,
            "result": {
                "count": len(packages) if count is None else count,
                "facets": {},
                "results": packages[start : start + rows],
                "sort": query.get("sort", "score desc, metadata_modified desc"),
                "search_facets": {},
            },
        }
        return 200, "application/json;charset=utf-8", json.dumps(body, ensure_ascii=False).encode()

    return routes


def recorded_packages() -> list:
    """The recorded CKAN answer's packages (two pages of package_search of a Korean city's portal)."""
    return [
        *fixture_json("ckan_package_search_page1.json")["result"]["results"],
        *fixture_json("ckan_package_search_page2.json")["result"]["results"],
    ]


def make_source(creator, organization: Organization, url: str, *, kind="ckan", mapping=None, **extra) -> HarvestSource:
    return HarvestSource.objects.create(
        name=extra.pop("name", "안산시 공공데이터 포털"),
        kind=kind,
        url=url,
        organization=organization,
        schedule=extra.pop("schedule", HarvestSource.Schedule.MANUAL),
        mapping=mapping if mapping is not None else {},
        created_by=creator,
        **extra,
    )


def make_run(source: HarvestSource, requested_by=None) -> HarvestRun:
    return HarvestRun.objects.create(source=source, requested_by=requested_by)


ANSAN_RULES = {
    "themes": {"hwangyeong": "environment", "gyotong": "transport"},
    "default_theme": "administration",
}
