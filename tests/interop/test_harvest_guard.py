"""The harvester's outbound guard (core.outbound) and its page parser's guards (catalog.harvest.readers.dcat):
only public addresses, no proxy, redirects checked at each hop; no remote JSON-LD context, no XML entities, a
parse bounded in time. Refusals reach the run report in Korean and English."""

import json
import threading
import time

import pytest
from django.utils import translation

from catalog.harvest import fetch
from catalog.harvest.probe import source_probe
from catalog.harvest.readers import http
from catalog.harvest.readers.dcat import read_dcat
from catalog.harvest.records import SourceError
from catalog.harvest.tasks import harvest_run
from core import outbound
from tests.interop.harvest_support import FakeSource, make_run, make_source

DCAT = b"""@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
<http://x.test/catalog> a dcat:Catalog ; dcat:dataset <http://x.test/d1> .
<http://x.test/d1> a dcat:Dataset ; dct:title "one"@ko ."""


def _redirecting(to):
    """A FakeSource whose every answer is a 302 to `to(path)` (the stdlib handler, with a Location header)."""
    source = FakeSource(lambda path, query: (200, "text/plain", b""))
    handler = source.server.RequestHandlerClass

    def do_GET(self):  # noqa: N802
        source.requests.append(self.path)
        self.send_response(302)
        self.send_header("Location", to(self.path))
        self.send_header("Content-Length", "0")
        self.end_headers()

    handler.do_GET = do_GET
    return source


@pytest.mark.parametrize(
    ("location", "code"), [("file:///etc/passwd", "scheme"), ("http://no-such-host.invalid/x", "unresolved")]
)
def test_each_redirect_hop_is_checked_again(location, code):
    with _redirecting(lambda path: location) as portal:
        with pytest.raises(outbound.Refused) as refused:
            with outbound.open_get(f"{portal.url}/start", allow_private=True, timeout=5):
                pass
    assert refused.value.code == code
    assert portal.requests == ["/start"]


def test_a_redirect_loop_ends_after_a_few_hops_with_a_korean_and_english_reason():
    with _redirecting(lambda path: f"/hop{len(path)}") as portal:
        with pytest.raises(SourceError) as error:
            http.get(f"{portal.url}/start")
    assert len(portal.requests) == outbound.MAX_REDIRECTS + 1
    assert "너무 여러 번" in error.value.message_ko and "redirected too many times" in error.value.message_en


def test_the_proxy_of_the_environment_is_not_used(monkeypatch):
    """HTTP_PROXY would carry the request to another host, unchecked: the harvester connects to the source."""
    with FakeSource(lambda path, query: (200, "text/plain", b"proxied")) as proxy:
        with FakeSource(lambda path, query: (200, "text/plain", b"direct")) as source:
            monkeypatch.setenv("HTTP_PROXY", proxy.url)
            monkeypatch.setenv("http_proxy", proxy.url)
            monkeypatch.delenv("NO_PROXY", raising=False)
            monkeypatch.delenv("no_proxy", raising=False)
            body, _type = http.get(f"{source.url}/page")
    assert body == b"direct" and proxy.requests == []


@pytest.mark.parametrize("address", ["127.0.0.1", "[::ffff:127.0.0.1]", "0.0.0.0"])
def test_internal_addresses_are_refused_in_both_languages(settings, address):
    settings.HARVEST_ALLOW_PRIVATE = False
    with pytest.raises(SourceError) as error:
        http.get(f"http://{address}:9/latest/meta-data/")
    assert "공개 인터넷 주소가 아니어서" in error.value.message_ko
    assert "not a public internet address" in error.value.message_en


def test_the_metadata_address_is_not_public():
    import ipaddress

    for address in ("169.254.169.254", "10.0.0.1", "192.168.1.1", "::1", "fd00::1", "::ffff:169.254.169.254"):
        assert outbound.not_public(ipaddress.ip_address(address)), address
    assert not outbound.not_public(ipaddress.ip_address("8.8.8.8"))


@pytest.mark.django_db
def test_a_run_on_an_internal_address_fails_with_the_reason_in_its_report(settings, official, admin_user):
    settings.HARVEST_ALLOW_PRIVATE = False
    with FakeSource(lambda path, query: (200, "text/turtle", DCAT)) as internal:
        source = make_source(admin_user, official.active_organization, f"{internal.url}/c.ttl", kind="dcat")
        run = make_run(source)
        assert harvest_run.apply(args=[run.pk]).get() == "failed"
        asked = list(internal.requests)
    run.refresh_from_db()
    assert asked == []
    assert "공개 인터넷 주소가 아니어서" in run.error_ko and "not a public internet address" in run.error_en


@pytest.mark.django_db
def test_fetch_mode_follows_no_redirect_to_an_internal_address(settings, tmp_path):
    """The first hop allowed (development setting), the file: hop refused: nothing is written."""
    with _redirecting(lambda path: "file:///etc/passwd") as portal:
        assert fetch._download(f"{portal.url}/data.csv", tmp_path / "x.csv") is None
    assert not (tmp_path / "x.csv").exists()


def test_the_address_check_refuses_an_internal_address_in_both_languages(settings):
    settings.HARVEST_ALLOW_PRIVATE = False
    with FakeSource(lambda path, query: (200, "text/turtle", DCAT)) as internal:
        probe = source_probe("dcat", f"{internal.url}/c.ttl")
        asked = list(internal.requests)
    assert not probe.ok and asked == []
    both = probe.bilingual()
    assert "공개 인터넷 주소가 아니어서" in both and "not a public internet address" in both
    with translation.override("en"):
        assert str(probe.message).startswith("Not read")


def _jsonld(context) -> bytes:
    return json.dumps(
        {
            "@context": context,
            "@graph": [
                {"@id": "http://x.test/catalog", "@type": "dcat:Catalog"},
                {
                    "@id": "http://x.test/d1",
                    "@type": "dcat:Dataset",
                    "dct:title": {"@value": "하나", "@language": "ko"},
                },
            ],
        }
    ).encode()


INLINE = {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/"}


@pytest.mark.parametrize(
    "context",
    [
        "REMOTE",
        [INLINE, {"@import": "REMOTE"}],
        {**INLINE, "dct:title": {"@id": "http://purl.org/dc/terms/title", "@context": ["REMOTE"]}},
    ],
    ids=["a string", "an @import", "a scoped context"],
)
def test_every_remote_jsonld_context_is_refused_and_never_fetched(context):
    with FakeSource(lambda path, query: (200, "application/ld+json", b"{}")) as internal:
        remote = f"{internal.url}/context.jsonld"
        page = _jsonld(json.loads(json.dumps(context).replace('"REMOTE"', json.dumps(remote))))
        with FakeSource(lambda path, query: (200, "application/ld+json", page)) as portal:
            with pytest.raises(SourceError) as error:
                list(read_dcat(f"{portal.url}/catalog.jsonld"))
        asked = list(internal.requests)
    assert asked == []
    assert "원격 @context" in error.value.message_ko and "remote @context" in error.value.message_en


def test_a_jsonld_page_with_its_context_inline_is_read():
    with FakeSource(lambda path, query: (200, "application/ld+json", _jsonld(INLINE))) as portal:
        pages = list(read_dcat(f"{portal.url}/catalog.jsonld"))
    assert [record.title_ko for record in pages[0].items] == ["하나"]


def _slow_rdfxml() -> bytes:
    """No DOCTYPE: a 1 MB literal of predefined `&amp;` entities, which rdflib builds quadratically (~4 s)."""
    return (
        b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        b'xmlns:dct="http://purl.org/dc/terms/" xmlns:dcat="http://www.w3.org/ns/dcat#">'
        b'<dcat:Dataset rdf:about="http://x.test/d1"><dct:title>' + b"x&amp;" * 200_000 + b"</dct:title>"
        b"</dcat:Dataset></rdf:RDF>"
    )


def _read_slow_page(url, outcome):
    began = time.monotonic()
    try:
        list(read_dcat(url))
        outcome["error"] = None
    except SourceError as exc:
        outcome["error"] = exc
    outcome["took"] = time.monotonic() - began


@pytest.mark.parametrize("where", ["main thread", "other thread"])
def test_a_page_that_parses_slowly_is_stopped_at_the_time_limit(settings, where):
    """The main thread (a prefork worker) stops the parse with a timer; another thread (a threaded worker) parses
    in a forked child that is killed at the deadline. Either way the run gets a Korean and English reason."""
    settings.HARVEST_PARSE_SECONDS = 1
    body = _slow_rdfxml()
    outcome = {}
    with FakeSource(lambda path, query: (200, "application/rdf+xml", body)) as portal:
        if where == "main thread":
            _read_slow_page(f"{portal.url}/c.rdf", outcome)
        else:
            thread = threading.Thread(target=_read_slow_page, args=(f"{portal.url}/c.rdf", outcome))
            thread.start()
            thread.join(30)
    assert outcome["took"] < 3, outcome
    assert "1초 안에 읽지 못했습니다" in outcome["error"].message_ko
    assert "within 1 seconds" in outcome["error"].message_en


def test_a_page_parsed_in_a_child_gives_the_same_records():
    """The forked child hands the graph back as N-Triples: nothing is lost on the way."""
    outcome = {}

    def read(url):
        outcome["pages"] = list(read_dcat(url))

    with FakeSource(lambda path, query: (200, "text/turtle", DCAT)) as portal:
        thread = threading.Thread(target=read, args=(f"{portal.url}/c.ttl",))
        thread.start()
        thread.join(30)
    assert [record.title_ko for record in outcome["pages"][0].items] == ["one"]
