"""Support of the harvest admin tests and journey: a tiny CKAN portal served from the recorded fixtures
(tests/interop/fixtures/ui_ckan_*.json) by a stdlib HTTP server on a free local port — an outside server, faked
behind its real interface — and harvested listings made in the shape the contract gives the importer (a Dataset
with a published DatasetVersion of the source's organization, a HarvestedDataset, ExternalResource rows, the
catalog entry refreshed)."""

import hashlib
import json
import socket
import threading
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from django.db import transaction
from django.utils import timezone

from catalog.harvest.models import ExternalResource, HarvestedDataset, HarvestRecord, HarvestRun
from catalog.models import Dataset, DatasetVersion, Licence, Theme
from catalog.services.entries import catalog_entry_refresh

FIXTURES = Path(__file__).parent / "fixtures"

DCAT_TURTLE = """@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix hydra: <http://www.w3.org/ns/hydra/core#> .

<https://data.city.example/catalog.ttl> a dcat:Catalog ;
    dct:title "시험 도시 데이터 카탈로그"@ko ;
    dcat:dataset <https://data.city.example/dataset/a>, <https://data.city.example/dataset/b> .
<https://data.city.example/dataset/a> a dcat:Dataset ; dct:title "주차장 현황"@ko .
<https://data.city.example/dataset/b> a dcat:Dataset ; dct:title "공원 현황"@ko .
<https://data.city.example/catalog.ttl?page=1> a hydra:PartialCollectionView ;
    hydra:next <https://data.city.example/catalog.ttl?page=2> ;
    hydra:totalItems 41 .
"""


def _facets(packages, fields) -> dict:
    """CKAN's search_facets for `fields` (groups, license_id, tags) over the fixture's packages."""
    facets = {}
    for field in fields:
        counts, titles = {}, {}
        for package in packages:
            if field == "license_id":
                values = (
                    [(package.get("license_id"), package.get("license_title"))] if package.get("license_id") else []
                )
            else:
                values = [(item["name"], item.get("display_name") or item["name"]) for item in package.get(field) or []]
            for name, title in values:
                counts[name] = counts.get(name, 0) + 1
                titles[name] = title
        items = [{"name": n, "display_name": titles[n], "count": c} for n, c in counts.items()]
        facets[field] = {"title": field, "items": items}
    return facets


class PortalHandler(BaseHTTPRequestHandler):
    """GET /api/3/action/package_search (rows/start honoured) and status_show from the fixtures; /broken → 500;
    /page → an HTML page; /catalog.ttl → a DCAT page; anything else → 404 HTML."""

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status, content_type, body: bytes):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        if path == "/api/3/action/package_search":
            answer = json.loads((FIXTURES / "ui_ckan_package_search.json").read_text(encoding="utf-8"))
            if query.get("fq", "").startswith("bad:"):
                error = {"help": answer["help"], "success": False, "error": {"__type": "Search Query Error"}}
                error["error"]["message"] = "Search error: unknown field 'bad'"
                return self._send(409, "application/json;charset=utf-8", json.dumps(error).encode())
            if "facet.field" in query:
                answer["result"]["search_facets"] = _facets(
                    answer["result"]["results"], json.loads(query["facet.field"])
                )
            start, rows = int(query.get("start", 0)), int(query.get("rows", 10))
            if rows and getattr(self.server, "hold", None) is not None:
                self.server.hold.wait(60)  # a harvest's read waits until the test lets it go (the run stays open)
            answer["result"]["results"] = answer["result"]["results"][start : start + rows]
            return self._send(200, "application/json;charset=utf-8", json.dumps(answer, ensure_ascii=False).encode())
        if path == "/api/3/action/status_show":
            return self._send(
                200, "application/json;charset=utf-8", (FIXTURES / "ui_ckan_status_show.json").read_bytes()
            )
        if path.startswith("/broken"):
            return self._send(500, "text/plain", b"Internal Server Error")
        if path.endswith("/catalog.ttl"):
            return self._send(200, "text/turtle; charset=utf-8", DCAT_TURTLE.encode())
        page = (
            "<!DOCTYPE html><html lang='ko'><head><title>경기데이터드림</title></head><body>포털 첫 화면</body></html>"
        )
        return self._send(200 if path.startswith("/page") else 404, "text/html; charset=utf-8", page.encode())


@contextmanager
def fixture_portal(hold: threading.Event | None = None):
    """A CKAN portal (and a few broken addresses) at http://127.0.0.1:<port>; yields the base address. With `hold`,
    a harvest's page reads (rows > 0; the address check asks rows=0) wait until the event is set: a worker that
    takes the run keeps it open meanwhile, whichever test ran before."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), PortalHandler)
    server.hold = hold
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def unused_address() -> str:
    """An address on which nothing listens (a port just closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@transaction.atomic
def make_harvested_listing(
    source,
    *,
    actor,
    identifier: str,
    title_ko: str,
    title_en: str = "",
    description_ko: str = "경기도가 공개한 자료를 수집했습니다.",
    theme: str = "transport",
    licence: str = "kogl-1",
    tags=("버스",),
    resources=(),
    source_url: str = "",
    run=None,
) -> Dataset:
    """A harvested listing as the importer makes it (see the module docstring); resources are dicts of
    ExternalResource fields."""
    now = timezone.now()
    dataset = Dataset.objects.create(slug=f"h-{uuid.uuid4().hex[:10]}", publisher=source.organization, created_by=actor)
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=1,
        state=DatasetVersion.State.PUBLISHED,
        title_ko=title_ko,
        title_en=title_en,
        description_ko=description_ko,
        theme=Theme.objects.get(code=theme),
        tags=list(tags),
        contact_name="경기도 교통정책과",
        contact_phone="",
        contact_email="bus-data@gg.example",
        update_cadence="monthly",
        data_kind="public",
        licence=Licence.objects.get(code=licence),
        created_by=actor,
        published_at=now,
    )
    digest = hashlib.sha256(f"{identifier}:{title_ko}".encode()).hexdigest()
    HarvestedDataset.objects.create(
        dataset=dataset,
        source=source,
        identifier=identifier,
        source_url=source_url,
        source_modified=now,
        imported_hash=digest,
        source_hash=digest,
        harvested_at=now,
        last_run=run,
    )
    for position, resource in enumerate(resources):
        ExternalResource.objects.create(version=version, position=position, **resource)
    catalog_entry_refresh(dataset)
    return dataset


def make_finished_run(source, *, requested_by, records) -> HarvestRun:
    """A finished run with its report lines: records are (identifier, title, action, message_ko, message_en,
    dataset or None); the run's counts are those of the lines."""
    now = timezone.now()
    run = HarvestRun.objects.create(
        source=source, requested_by=requested_by, state=HarvestRun.State.DONE, started_at=now, finished_at=now
    )
    counts = dict.fromkeys(HarvestRecord.Action.values, 0)
    for identifier, title, action, message_ko, message_en, dataset in records:
        HarvestRecord.objects.create(
            run=run,
            identifier=identifier,
            title=title,
            action=action,
            message_ko=message_ko,
            message_en=message_en,
            dataset=dataset,
        )
        counts[action] += 1
    HarvestRun.objects.filter(pk=run.pk).update(seen=len(records), **counts)
    run.refresh_from_db()
    return run
