"""Reviewer rev3: harvested listings and harvest sources under hostile or unusual input."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse
from rdflib import Graph

from catalog import services as catalog_services
from catalog.harvest.mapping import Vocabulary, version_fields
from catalog.harvest.probe import source_probe
from catalog.harvest.readers.ckan import package_record
from catalog.harvest.readers.dcat import dataset_record
from catalog.harvest.records import SourceRecord
from catalog.models import Licence, Offer
from core.errors import DomainError
from tests.interop.test_harvest_admin import harvested, make_source, provider_org  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

NOT_WEB = [
    "javascript:alert(document.domain)//",
    " JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
]


@pytest.mark.parametrize("url", NOT_WEB)
def test_a_ckan_landing_page_that_is_not_a_web_address_is_not_linked(url):
    record = package_record(
        "https://data.gg.example",
        {"id": "p1", "name": "gg-bus", "title": "버스", "extras": [{"key": "landing_page", "value": url}]},
    )
    # The record at the source is still linked: the portal's own dataset page.
    assert record.source_url == "https://data.gg.example/dataset/gg-bus"


@pytest.mark.parametrize("url", NOT_WEB)
def test_a_dcat_landing_page_that_is_not_a_web_address_is_not_linked(url):
    graph = Graph().parse(
        data=f"""@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
<https://data.city.example/dataset/a> a dcat:Dataset ; dct:title "주차장"@ko ;
    dcat:landingPage "{url}" .""",
        format="turtle",
    )
    record = dataset_record(graph, next(iter(graph.subjects())))
    assert not record.source_url.strip().lower().startswith(("javascript:", "data:", "vbscript:"))


@pytest.mark.parametrize("url", NOT_WEB)
def test_a_source_record_keeps_only_web_addresses(url):
    record = SourceRecord(identifier="x", source_url=url, title_ko="제목")
    assert record.source_url == ""


def test_a_private_offer_on_a_harvested_listing_reaches_its_buyer(client, harvested, official, buyer, login):  # noqa: F811
    offer = catalog_services.offer_create(
        actor=official,
        dataset=harvested,
        kind=Offer.Kind.ONE_OFF,
        price_krw=50_000,
        cost_basis="가공·정제 비용",
        buyer=buyer.active_organization,
    )
    url = reverse("catalog:dataset", args=[harvested.slug])
    # Everyone else: free at the source, nothing to buy here.
    assert 'id="purchase-panel"' not in client.get(url).content.decode()
    # The buyer the offer is for sees it, with its price, and can put it in the cart.
    login(buyer)
    html = client.get(url).content.decode()
    assert f'id="purchase-offer-{offer.pk}"' in html and "55,000" in html


def test_a_rule_naming_the_owners_own_licence_imports_with_it(admin_user, provider_org, reference_data):  # noqa: F811
    own = Licence.objects.create(
        code="gg-own-licence",
        family=Licence.Family.COMMERCIAL,
        name_ko="자체 이용허락",
        name_en="Own licence",
        summary_ko="요약",
        summary_en="summary",
        text_ko="본문",
        allows_commercial_use=True,
        allows_derivatives=True,
        organization=provider_org,
    )
    # The service accepts the rule: the owner organization may use its own licence...
    source = make_source(
        admin_user,
        provider_org,
        "https://data.gg.example",
        mapping={"themes": {"traffic": "transport"}, "licences": {"gg-terms": own.code}},
    )
    record = SourceRecord(identifier="p1", title_ko="버스", themes=["traffic"], licence="gg-terms")
    # ...so the run must import with it (today every such record fails: "No licence could be chosen").
    assert version_fields(record, source, Vocabulary())["licence"] == own


def test_a_rule_that_can_never_import_public_data_is_refused_when_saved(admin_user, provider_org, reference_data):  # noqa: F811
    # 공공누리 제4유형 forbids commercial use: public data may not carry it, so every record this rule maps fails.
    with pytest.raises(DomainError):
        make_source(
            admin_user,
            provider_org,
            "https://data.gg.example",
            mapping={"themes": {"traffic": "transport"}, "licences": {"other-closed": "kogl-4"}, "data_kind": "public"},
        )


class _Drip(BaseHTTPRequestHandler):
    """Answers 200 at once, then one byte a second for a minute: each read is quick, the answer never ends."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/turtle")
        self.end_headers()
        try:
            for _i in range(60):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(1)
        except OSError:
            pass


def test_the_address_check_gives_up_on_an_answer_that_drips_in():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        probe = source_probe("dcat", f"http://127.0.0.1:{server.server_address[1]}/catalog.ttl")
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    assert not probe.ok
    assert elapsed < 20, f"the check took {elapsed:.0f} s (it says it waits 10)"


def test_the_collection_method_names_the_source_without_its_key(admin_user, provider_org, reference_data):  # noqa: F811
    source = make_source(
        admin_user,
        provider_org,
        "https://apis.gg.example/catalog?serviceKey=SECRET123",
        kind="dcat",
        mapping={"default_theme": "transport", "default_licence": "kogl-1"},
    )
    record = SourceRecord(identifier="p1", title_ko="버스", themes=[], licence="")
    method = version_fields(record, source, Vocabulary())["collection_method"]
    assert "apis.gg.example/catalog" in method and "SECRET123" not in method and "serviceKey" not in method
