"""Reviewer rev2: failing reproductions of harvesting bugs (hostile or shifting sources, SSRF, parser DoS)."""

import json
import multiprocessing
import time

import pytest

from catalog.harvest import fetch
from catalog.harvest.models import HarvestedDataset, HarvestRecord
from catalog.harvest.readers import http
from catalog.harvest.readers.dcat import read_dcat
from catalog.harvest.records import SourceError
from catalog.harvest.tasks import harvest_run
from catalog.models import DatasetVersion
from tests.interop.harvest_support import ANSAN_RULES, FakeSource, ckan_pages, make_run, make_source, recorded_packages

V = DatasetVersion.State
A = HarvestRecord.Action


@pytest.fixture(autouse=True)
def _small_pages(settings):
    settings.HARVEST_CKAN_ROWS = 3
    settings.HARVEST_RETRY_BACKOFF_SECONDS = 0.01


@pytest.fixture
def world(official, admin_user, reference_data):
    return {"official": official, "admin": admin_user, "org": official.active_organization}


def run_once(source):
    run = make_run(source)
    assert harvest_run.apply(args=[run.pk]).get() in ("done", "failed")
    run.refresh_from_db()
    return run


@pytest.mark.django_db
def test_a_record_deleted_at_the_source_while_paging_does_not_withdraw_a_living_one(world):
    """Offset paging: a record already read is deleted at the source before the next page is asked for, so every
    later record shifts one place back and the first of the next page is never seen. The count on the last page
    matches what was seen, the read is taken for complete, and a record that is still at the source is withdrawn."""
    recorded = recorded_packages()  # 5 packages, pages of 3; the 4th has no title (a failed line)
    packages = [*recorded[:3], recorded[4], recorded[3]]
    holder = {"packages": packages}

    def routes(path, query):
        if int(query.get("start", 0)) > 0 and holder.get("shift"):
            holder["packages"] = packages[1:]  # packages[0] deleted at the source after page 1 was read
        return ckan_pages(holder["packages"])(path, query)

    with FakeSource(routes) as portal:
        source = make_source(world["admin"], world["org"], portal.url, mapping=ANSAN_RULES)
        first = run_once(source)
        assert (first.added, first.failed) == (4, 1)
        holder["shift"] = True
        second = run_once(source)
    living = packages[3]["id"]  # still at the source the whole time
    removed = list(second.records.filter(action=A.REMOVED).values_list("identifier", flat=True))
    assert living not in removed, f"withdrawn though still at the source: {removed}"
    assert not HarvestedDataset.objects.filter(identifier=living, removed_at__isnull=False).exists()


@pytest.mark.django_db
def test_a_ckan_source_without_a_count_that_repeats_its_page_does_not_page_forever(world):
    """A hostile (or broken) CKAN answers every `start` with the same full page and no count: the reader has no
    bound (dcat has MAX_PAGES, ckan none) and no "nothing new on this page" stop. The fake stops it after 40 pages
    with a 404 so that the test ends."""
    packages = recorded_packages()[:3]

    def routes(path, query):
        if int(query.get("start", 0)) >= 120:
            return 404, "application/json", b'{"success": false, "error": {"message": "stop"}}'
        body = {"success": True, "result": {"results": packages}}
        return 200, "application/json", json.dumps(body).encode()

    with FakeSource(routes) as portal:
        source = make_source(world["admin"], world["org"], portal.url, mapping=ANSAN_RULES)
        run_once(source)
        pages = len(portal.requests)
    assert pages <= 3, f"{pages} pages asked for a source that repeats one page"


def test_a_jsonld_page_does_not_make_the_harvester_fetch_its_remote_context():
    """rdflib's JSON-LD parser fetches a remote @context with urllib (any host, file:// too, no size or time cap,
    no address check): a source's page makes the worker GET an internal address."""
    internal = FakeSource(lambda path, query: (200, "application/ld+json", b'{"@context": {}}'))
    with internal:
        doc = {
            "@context": [f"{internal.url}/latest/meta-data/", {"dcat": "http://www.w3.org/ns/dcat#"}],
            "@id": "http://x.test/catalog",
            "@type": "dcat:Catalog",
        }
        with FakeSource(lambda path, query: (200, "application/ld+json", json.dumps(doc).encode())) as portal:
            try:
                list(read_dcat(f"{portal.url}/catalog.jsonld"))
            except SourceError:
                pass  # refusing the document is fine too
        asked = list(internal.requests)
    assert asked == [], f"the harvester fetched {asked} from an internal address named by the source"


def test_a_tiny_rdfxml_page_with_nested_entities_is_refused_quickly():
    """Six hundred bytes of RDF/XML with nested internal entities (a small "billion laughs") expand to a 1 MB
    literal that rdflib builds quadratically: ~15 s of CPU; one level more takes minutes, two more hours, past the
    lease, and every worker that takes the run over hangs the same way."""
    levels = 6
    entities = '<!ENTITY a0 "xxxxxxxxxx">' + "".join(
        f'<!ENTITY a{i} "' + f"&a{i - 1};" * 10 + '">' for i in range(1, levels + 1)
    )
    doc = f"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [{entities}]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:dct="http://purl.org/dc/terms/"
 xmlns:dcat="http://www.w3.org/ns/dcat#">
<dcat:Dataset rdf:about="http://x.test/d1"><dct:title>&a{levels};</dct:title></dcat:Dataset></rdf:RDF>""".encode()
    with FakeSource(lambda path, query: (200, "application/rdf+xml", doc)) as portal:
        began = time.monotonic()
        reader = multiprocessing.get_context("fork").Process(target=_read_quietly, args=(f"{portal.url}/c.rdf",))
        reader.start()
        reader.join(10)
        hung = reader.is_alive()
        if hung:
            reader.kill()
            reader.join()
        took = time.monotonic() - began
    assert not hung, f"{len(doc)} bytes of RDF/XML still being read after {took:.0f} s"


def _read_quietly(url):
    try:
        list(read_dcat(url))
    except SourceError:
        pass


@pytest.mark.parametrize("address", ["127.0.0.1", "localhost"])
def test_the_reader_refuses_internal_addresses(settings, address):
    """A DCAT page's hydra:next (or the source URL) may name any host: the harvester GETs loopback, private and
    link-local (169.254.169.254) addresses, and follows redirects to them. transactions.livefeed checks webhook
    addresses (resolved, pinned, no redirects); the harvester does not. (Setting name proposed: the fix would add
    HARVEST_ALLOW_PRIVATE, on in the test settings for the fake sources, off here.)"""
    settings.HARVEST_ALLOW_PRIVATE = False
    with FakeSource(lambda path, query: (200, "text/plain", b"secret")) as internal:
        url = internal.url.replace("127.0.0.1", address) + "/latest/meta-data/"
        with pytest.raises(SourceError):
            http.get(url)


@pytest.mark.django_db
def test_fetch_mode_does_not_download_a_resource_on_an_internal_address(settings, tmp_path):
    """resource_mode "fetch": a source's resource URL pointing at an internal service (cloud metadata, an admin
    port) is downloaded, uploaded as a DataFile and, once its checks pass, published for buyers to download."""
    settings.HARVEST_ALLOW_PRIVATE = False
    with FakeSource(lambda path, query: (200, "application/json", b'{"AccessKeyId": "AKIA..."}')) as internal:
        size = fetch._download(f"{internal.url}/latest/meta-data/iam/security-credentials/role.json", tmp_path / "x")
    assert size is None, "a file on an internal address was downloaded"


@pytest.mark.django_db
def test_rev2_query_profile(world, settings):
    """Not an assertion: prints the queries a first and second harvest make per record (rev2's measurement)."""
    import collections
    import copy
    import re

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.HARVEST_CKAN_ROWS = 50
    base = recorded_packages()[0]
    packages = []
    for i in range(50):
        p = copy.deepcopy(base)
        p["id"], p["name"], p["title"] = f"id-{i:04d}", f"gen-{i:04d}", f"생성 {i}"
        p.pop("title_translated", None)
        packages.append(p)
    with FakeSource(ckan_pages(packages)) as portal:
        source = make_source(world["admin"], world["org"], portal.url, mapping=ANSAN_RULES)
        for label in ("first", "second"):
            with CaptureQueriesContext(connection) as ctx:
                run = run_once(source)
            kinds = collections.Counter()
            for q in ctx.captured_queries:
                sql = q["sql"]
                verb = sql.split()[0]
                table = re.search(r'(?:FROM|INTO|UPDATE)\s+"(\w+)"', sql)
                kinds[f"{verb} {table.group(1) if table else '?'}"] += 1
            print(
                f"\n{label}: {len(ctx.captured_queries)} queries for {run.seen} records "
                f"({len(ctx.captured_queries) / run.seen:.1f}/record), added={run.added} unchanged={run.unchanged}"
            )
            for k, n in kinds.most_common(40):
                print(f"  {n / run.seen:5.2f}/rec  {k}")


@pytest.mark.django_db
def test_a_fetch_whose_upload_is_refused_does_not_freeze_the_listing(official, admin_user, reference_data):
    """resource_mode "fetch": the draft (change note FETCH_NOTE) is committed before the uploads; when an upload is
    refused (here the file name made from the resource's name, "측정값/" + ".csv", is no file name) or the worker is
    killed between the two, an empty fetch draft stays. harvest_fetched_publish only looks at READY drafts, and
    every later run reports "the files are being fetched" and never applies the source's changes again."""
    import copy

    holder = {}

    def routes(path, query):
        if path == "/files/download":
            return 200, "text/csv", "측정소,PM10\n고잔동,41\n".encode()
        return ckan_pages(holder["packages"])(path, query)

    def package(base, title):
        p = copy.deepcopy(recorded_packages()[0])
        p["title"] = title
        p.pop("title_translated", None)
        p["resources"] = [{**p["resources"][0], "url": f"{base}/files/download", "format": "CSV", "name": "측정값/"}]
        return [p]

    with FakeSource(routes) as portal:
        holder["packages"] = package(portal.url, "대기질 1")
        source = make_source(admin_user, official.active_organization, portal.url, mapping=ANSAN_RULES,
                             resource_mode="fetch")  # fmt: skip
        first = run_once(source)
        assert first.added == 1
        holder["packages"] = package(portal.url, "대기질 2")  # the source changes its title
        second = run_once(source)
    line = second.records.get()
    assert line.action == A.UPDATED, f"{line.action}: {line.message_en}"


def test_a_landing_page_that_is_not_http_is_not_taken_as_the_source_link():
    """CKAN's `landing_page` extra (and DCAT's dcat:landingPage) becomes HarvestedDataset.source_url unchecked: it is
    the href of the dataset page's "See the original record at the source" and "Get the data at the source" buttons
    and the `url` of our own CKAN API's package. A javascript: or data: address must not get there (the CSP blocks
    the script on our page today; our API's consumers have no such guard). Resource URLs are checked, this is not."""
    from catalog.harvest.readers.ckan import package_record

    package = {
        **recorded_packages()[0],
        "extras": [{"key": "landing_page", "value": "javascript:alert(document.domain)"}],
    }
    record = package_record("https://portal.example.test", package)
    assert record.source_url.startswith(("http://", "https://")), record.source_url
