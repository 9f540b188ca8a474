"""The DCAT-AP documents as a harvester meets them: content negotiation on the dataset page, the paged catalog and its
Hydra links, ?modified_since=, errors in Korean and English, what is never described (drafts, withdrawn and suspended
datasets, private storage), the facts of a distribution (size, SHA-256, formats, where to get it), the table schema a
distribution conforms to, the theme scheme, the EU vocabularies, and a page's fixed number of queries."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic

from catalog import services
from catalog.dcat import vocab
from catalog.discovery import catalog_changed
from catalog.harvest.mapping import map_cadence
from catalog.harvest.records import SourceRecord
from catalog.models import CatalogEntry, DataFile, DatasetVersion, Theme
from catalog.reference_data import THEMES
from tests.catalog.test_dataset_page import air_csv, publish
from tests.interop.test_dcat_shacl import full_dataset, harvested, parse_all, shapes_dir

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCTERMS = Namespace("http://purl.org/dc/terms/")
RDF = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
SH = Namespace("http://www.w3.org/ns/shacl#")
CSVW = Namespace("http://www.w3.org/ns/csvw#")

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def page_url(version) -> str:
    return f"/catalog/datasets/{version.dataset.slug}/"


def uri(path: str) -> URIRef:
    return URIRef(f"http://testserver{path}")


def turtle(client, url, data=None, **headers) -> Graph:
    response = client.get(url, data, **headers)
    assert response.status_code == 200, response.content[:300]
    return Graph().parse(data=response.content, format="turtle")


@pytest.fixture
def published(official, admin_user, reference_data):
    return publish(official, admin_user, files=[("시흥_대기질.csv", air_csv())], justification="사무실 번호")


# --- content negotiation -------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "accept, expected",
    [
        ("", "text/html"),
        ("*/*", "text/html"),
        (BROWSER, "text/html"),
        ("text/turtle", "text/turtle"),
        ("application/ld+json", "application/ld+json"),
        ("application/rdf+xml", "application/rdf+xml"),
        ("text/turtle;q=0.5, text/html", "text/html"),
        ("text/html;q=0.1, application/ld+json", "application/ld+json"),
        ("application/rdf+xml;q=0.8, text/turtle", "text/turtle"),
        ("application/json", "text/html"),  # not an RDF type we make: the page
    ],
)
def test_the_dataset_page_answers_rdf_by_the_accept_header(client, published, accept, expected):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = client.get(page_url(published), **headers)
    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == expected
    assert "Accept" in response["Vary"]
    if expected == "text/html":
        assert b"<html" in response.content
    else:
        fmt = {"text/turtle": "turtle", "application/ld+json": "json-ld", "application/rdf+xml": "xml"}[expected]
        g = Graph().parse(data=response.content, format=fmt)
        assert (uri(page_url(published)), RDF.type, DCAT.Dataset) in g
        ext = {"turtle": "ttl", "json-ld": "jsonld", "xml": "rdf"}[fmt]
        assert response["Content-Location"] == f"http://testserver/dataset/{published.dataset.slug}.{ext}"
        # The same description as the dataset's own document.
        assert isomorphic(g, turtle(client, f"/dataset/{published.dataset.slug}.ttl"))


@pytest.mark.django_db
def test_the_catalogs_uri_sends_rdf_readers_to_its_documents(client, published):
    for accept, ext in (("text/turtle", "ttl"), ("application/ld+json", "jsonld"), ("application/rdf+xml", "rdf")):
        response = client.get("/catalog/", HTTP_ACCEPT=accept)
        assert response.status_code == 303 and response["Location"] == f"http://testserver/catalog.{ext}"
        assert "Accept" in response["Vary"]
    response = client.get("/catalog/", HTTP_ACCEPT=BROWSER)
    assert response.status_code == 200 and b"<html" in response.content and "Accept" in response["Vary"]
    g = turtle(client, "/catalog.ttl")
    assert (uri("/catalog/"), RDF.type, DCAT.Catalog) in g


# --- what is public ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_only_what_the_catalog_shows_is_described(client, official, admin_user, published, reference_data):
    """A draft, a withdrawn and a suspended dataset have no RDF (404 by URL and by negotiation), are in no catalog
    page, and no output ever names a file's private storage name."""
    draft = services.dataset_create(
        actor=official,
        organization=official.active_organization,
        title_ko="초안 데이터",
        description_ko="초안",
        theme=Theme.objects.get(code="environment"),
        contact_name="정",
        contact_phone="031",
        contact_email="a@b.kr",
        update_cadence="monthly",
        data_kind="public",
    )
    withdrawn = publish(official, admin_user, title_ko="철회될 데이터", fake_files=1)
    services.version_withdraw(actor=official, version=withdrawn, reason="오류 발견")
    suspended = publish(official, admin_user, title_ko="중지될 데이터", fake_files=1)
    services.dataset_suspend(actor=admin_user, dataset=suspended.dataset, reason="민원 확인 중")
    catalog_changed()
    for hidden in (draft, withdrawn, suspended):
        slug = hidden.dataset.slug
        assert client.get(f"/dataset/{slug}.ttl").status_code == 404
        assert client.get(f"/catalog/datasets/{slug}/", HTTP_ACCEPT="text/turtle").status_code == 404
    response = client.get("/catalog.ttl")
    g = Graph().parse(data=response.content, format="turtle")
    assert set(g.subjects(RDF.type, DCAT.Dataset)) == {uri(page_url(published))}
    stored = DataFile.objects.get(version=published).file.name
    assert stored and stored not in response.content.decode()
    assert stored not in client.get(f"/dataset/{published.dataset.slug}.jsonld").content.decode()


# --- paging and modified_since -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_catalog_pages_with_hydra_links_and_modified_since(client, official, admin_user, reference_data, settings):
    versions = [publish(official, admin_user, title_ko=f"시흥시 주차장 {i}", fake_files=1) for i in range(5)]
    old = timezone.now() - timedelta(days=40)
    for version in versions[:2]:  # published 40 days ago
        DatasetVersion.objects.filter(pk=version.pk).update(published_at=old)
        CatalogEntry.objects.filter(pk=version.dataset_id).update(published_at=old)
    settings.DCAT_PAGE_SIZE = 2
    catalog_changed()

    g = turtle(client, "/catalog.ttl?page=2")
    view = uri("/catalog.ttl?page=2")
    assert (view, RDF.type, HYDRA.PartialCollectionView) in g
    assert g.value(view, HYDRA.first) == uri("/catalog.ttl?page=1")
    assert g.value(view, HYDRA.previous) == uri("/catalog.ttl?page=1")
    assert g.value(view, HYDRA.next) == uri("/catalog.ttl?page=3")
    assert g.value(view, HYDRA.last) == uri("/catalog.ttl?page=3")
    assert g.value(view, HYDRA.totalItems).toPython() == 5
    assert (uri("/catalog/"), HYDRA.view, view) in g
    # Paged by the datasets' primary keys: pages 1–3 hold every dataset once.
    seen = []
    for page in (1, 2, 3):
        seen += sorted(turtle(client, f"/catalog.ttl?page={page}").subjects(RDF.type, DCAT.Dataset))
    assert sorted(seen) == sorted(uri(page_url(v)) for v in versions) and len(seen) == 5
    last = turtle(client, "/catalog.ttl?page=3")
    assert last.value(uri("/catalog.ttl?page=3"), HYDRA.next) is None

    since = (timezone.localdate() - timedelta(days=10)).isoformat()
    g = turtle(client, f"/catalog.ttl?modified_since={since}")
    view = uri(f"/catalog.ttl?page=1&modified_since={since}")
    assert g.value(view, HYDRA.totalItems).toPython() == 3
    assert g.value(view, HYDRA.next) == uri(f"/catalog.ttl?page=2&modified_since={since}")
    g = Graph()
    for page in (1, 2):
        g += turtle(client, f"/catalog.ttl?page={page}&modified_since={since}")
    assert set(g.subjects(RDF.type, DCAT.Dataset)) == {uri(page_url(v)) for v in versions[2:]}
    # A date-time with its offset, and one without (Korean time).
    moment = (timezone.now() - timedelta(days=41)).isoformat()
    assert total(turtle(client, "/catalog.ttl", data={"modified_since": moment})) == 5
    assert total(turtle(client, "/catalog.ttl", data={"modified_since": "2099-01-01T00:00:00"})) == 0
    assert total(turtle(client, "/catalog.ttl", data={"modified_since": since + "T00:00:00"})) == 3


def total(g: Graph) -> int:
    """hydra:totalItems of the page's view."""
    view = next(iter(g.subjects(RDF.type, HYDRA.PartialCollectionView)))
    return g.value(view, HYDRA.totalItems).toPython()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, code",
    [
        ("modified_since=yesterday", "invalid_modified_since"),
        ("modified_since=2026-13-45", "invalid_modified_since"),
        ("modified_since=2026-01-01T25:00", "invalid_modified_since"),
        ("page=0", "invalid_page"),
        ("page=abc", "invalid_page"),
        ("page=-1", "invalid_page"),
    ],
)
def test_bad_parameters_are_refused_in_korean_and_english(client, published, query, code):
    for ext in ("ttl", "jsonld", "rdf"):
        response = client.get(f"/catalog.{ext}?{query}")
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == code
        assert error["message_ko"] and error["message_en"] and error["message_ko"] != error["message_en"]
        assert any("\uac00" <= c <= "\ud7a3" for c in error["message_ko"])  # Hangul


@pytest.mark.django_db
def test_a_page_past_the_last_is_not_found(client, published):
    assert client.get("/catalog.ttl?page=1").status_code == 200
    response = client.get("/catalog.ttl?page=2")
    assert response.status_code == 404
    assert response.json()["error"]["message_en"]


@pytest.mark.django_db
def test_an_empty_catalog_is_one_empty_page(client, reference_data):
    g = turtle(client, "/catalog.ttl")
    assert (uri("/catalog/"), RDF.type, DCAT.Catalog) in g
    assert not set(g.subjects(RDF.type, DCAT.Dataset))
    assert g.value(uri("/catalog.ttl?page=1"), HYDRA.totalItems).toPython() == 0


@pytest.mark.django_db
def test_the_documents_share_the_apis_budget_per_address(client, published, settings):
    settings.API_RATE_PER_IP = "3/minute"
    statuses = [client.get("/catalog.ttl").status_code for _ in range(4)]
    assert statuses[-1] == 429 and set(statuses) <= {200, 429}
    response = client.get(f"/catalog/datasets/{published.dataset.slug}/", HTTP_ACCEPT="text/turtle")
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    error = response.json()["error"]
    assert error["code"] == "throttled" and error["message_ko"] != error["message_en"]
    assert client.get(f"/catalog/datasets/{published.dataset.slug}/").status_code == 200  # the page itself is not


# --- distributions ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_distribution_states_size_checksum_formats_and_where_to_get_it(client, official, admin_user, reference_data):
    version = full_dataset(official, admin_user)
    slug = version.dataset.slug
    g = parse_all(client, f"/dataset/{slug}.ttl")
    dataset = uri(page_url(version))
    csv_file = DataFile.objects.get(version=version, original_name="시흥_대기질.csv")
    dist = URIRef(f"{dataset}#file-{csv_file.pk}")
    assert (dataset, DCAT.distribution, dist) in g
    assert g.value(dist, DCAT.byteSize).toPython() == csv_file.size
    checksum = g.value(dist, SPDX.checksum)
    assert g.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
    assert str(g.value(checksum, SPDX.checksumValue)) == csv_file.sha256
    assert g.value(dist, DCAT.mediaType) == URIRef("https://www.iana.org/assignments/media-types/text/csv")
    assert g.value(dist, DCTERMS["format"]) == URIRef("http://publications.europa.eu/resource/authority/file-type/CSV")
    assert g.value(dist, DCTERMS.license) == URIRef("https://www.kogl.or.kr/info/licenseType1.do")
    # Bought or taken on the dataset page: no public download of the file itself.
    assert g.value(dist, DCAT.accessURL) == dataset
    assert g.value(dist, DCAT.downloadURL) is None
    # A ZIP is described by the files it holds, each with its own checksum.
    members = DataFile.objects.filter(version=version, parent__isnull=False)
    assert members.count() == 2
    for member in members:
        node = URIRef(f"{dataset}#file-{member.pk}")
        assert str(g.value(g.value(node, SPDX.checksum), SPDX.checksumValue)) == member.sha256
    # The free sample is a real download.
    sample = URIRef(f"{dataset}#sample-{csv_file.pk}")
    assert (dataset, ADMS.sample, sample) in g
    download = str(g.value(sample, DCAT.downloadURL)).replace("http://testserver", "")
    response = client.get(download)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    # The data dictionary: the columns inline (CSVW) and the Table Schema document the distribution conforms to.
    columns = {str(g.value(c, CSVW.name)): c for c in g.objects(g.value(dist, CSVW.tableSchema), CSVW.column)}
    assert set(columns) == {"측정소명", "측정일시", "미세먼지", "비고", "담당자연락처"}
    assert Literal("PM10 1시간 평균", lang="ko") in set(g.objects(columns["미세먼지"], DCTERMS.description))
    assert Literal("PM10, hourly mean", lang="en") in set(g.objects(columns["미세먼지"], DCTERMS.description))
    standard = g.value(dist, DCTERMS.conformsTo)
    assert (standard, RDF.type, DCTERMS.Standard) in g
    schema = client.get(str(standard).replace("http://testserver", "")).json()
    field = next(f for f in schema["fields"] if f["name"] == "미세먼지")
    assert field["description"] == "PM10 1시간 평균" and field["unit"] == "㎍/㎥" and field["type"] == "integer"
    # Coverage, frequency and contact.
    assert str(g.value(g.value(dataset, DCTERMS.temporal), DCAT.startDate)) == "2024-01-01"
    assert "POLYGON((126.72 37.33" in str(g.value(g.value(dataset, DCTERMS.spatial), DCAT.bbox))
    assert g.value(dataset, DCTERMS.accrualPeriodicity) == URIRef(
        "http://publications.europa.eu/resource/authority/frequency/MONTHLY"
    )
    contact = g.value(dataset, DCAT.contactPoint)
    assert g.value(contact, URIRef("http://www.w3.org/2006/vcard/ns#hasEmail")) == URIRef(
        "mailto:official@siheung.test"
    )


@pytest.mark.django_db
def test_a_harvested_listing_names_its_source_and_links_to_its_files(client, official, admin_user, reference_data):
    version = harvested(official, admin_user)
    g = parse_all(client, f"/dataset/{version.dataset.slug}.ttl")
    dataset = uri(page_url(version))
    assert g.value(dataset, URIRef("http://www.w3.org/ns/prov#wasDerivedFrom")) == URIRef(
        "https://data.daegu.example/dataset/bus-stops"
    )
    identifier = g.value(dataset, ADMS.identifier)
    assert str(g.value(identifier, SKOS.notation)) == "4f1c0b7e-bus-stops"
    # DCAT-AP requires a description: a record without one is described by its title.
    assert str(g.value(dataset, DCTERMS.description)) == "대구광역시 버스 정류장 위치"
    dists = {str(g.value(d, DCTERMS["title"])): d for d in g.objects(dataset, DCAT.distribution)}
    assert set(dists) == {"정류장 목록", "정류장 API", "정류장 도면"}
    listed = dists["정류장 목록"]
    assert g.value(listed, DCAT.downloadURL) == URIRef("https://data.daegu.example/files/stops%202024.csv")
    assert str(g.value(g.value(listed, SPDX.checksum), SPDX.checksumValue)) == "ab" * 32
    assert g.value(listed, DCAT.byteSize).toPython() == 12345
    api = dists["정류장 API"]
    assert g.value(api, DCAT.accessURL) == URIRef("https://api.daegu.example/stops?key=")
    assert g.value(api, DCAT.downloadURL) is None  # an API is reached, not downloaded
    hwp = dists["정류장 도면"]
    assert g.value(g.value(hwp, SPDX.checksum), SPDX.algorithm) == SPDX.checksumAlgorithm_md5
    assert str(g.value(g.value(hwp, DCTERMS["format"]), URIRef("http://www.w3.org/2000/01/rdf-schema#label"))) == "HWP"


# --- themes and vocabularies -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_theme_scheme_maps_every_class_onto_an_eu_data_theme(client, reference_data):
    g = parse_all(client, "/themes.ttl")
    scheme = uri("/themes")
    assert (scheme, RDF.type, SKOS.ConceptScheme) in g
    concepts = set(g.objects(scheme, SKOS.hasTopConcept))
    assert len(concepts) == len(THEMES) == 16
    for code, name_ko, name_en in THEMES:
        concept = URIRef(f"http://testserver/themes#{code}")
        assert concept in concepts
        assert Literal(name_ko, lang="ko") in set(g.objects(concept, SKOS.prefLabel))
        assert Literal(name_en, lang="en") in set(g.objects(concept, SKOS.prefLabel))
        eu = g.value(concept, SKOS.exactMatch) or g.value(concept, SKOS.closeMatch)
        assert str(eu).startswith("http://publications.europa.eu/resource/authority/data-theme/")
        assert g.value(eu, SKOS.prefLabel) is not None
    # /themes itself answers by the Accept header.
    response = client.get("/themes", HTTP_ACCEPT="application/ld+json")
    assert response["Content-Type"].startswith("application/ld+json") and "Accept" in response["Vary"]
    assert isomorphic(Graph().parse(data=response.content, format="json-ld"), g)


def test_every_value_of_ours_has_its_eu_vocabulary_entry():
    for cadence in DatasetVersion.Cadence.values:
        assert vocab.frequency_uri(cadence) is not None, cadence
        # The harvester reads our frequency back as the same cadence (catalog.harvest.mapping, the one reverse map).
        record = SourceRecord(identifier="x", title_ko="x", cadence=str(vocab.frequency_uri(cadence)))
        assert map_cadence(record, {}) == cadence
    for code, _ko, _en in THEMES:
        assert vocab.data_theme_uri(code) is not None, code
    for fmt in DataFile.Format.values:
        file_type, media = vocab.file_type(fmt)
        assert file_type is not None and media is not None, fmt
    assert vocab.checksum("SHA-256:" + "A" * 64) == (SPDX.checksumAlgorithm_sha256, "a" * 64)
    assert vocab.checksum("md5:" + "0" * 64) is None  # says md5, is 256 bits long
    assert vocab.checksum("not a hash") is None


@pytest.mark.django_db
def test_the_eu_vocabularies_pass_their_own_shapes(client, official, admin_user, reference_data):
    """mdr-vocabularies.shape.ttl is not the bar (it wants EU corporate bodies as publishers), but the frequency,
    language and file types we name are the EU's own: no violation on those properties."""
    from pyshacl import validate

    full_dataset(official, admin_user)
    g = turtle(client, "/catalog.ttl")
    mdr = Graph().parse(shapes_dir() / "mdr-vocabularies.shape.ttl", format="turtle")
    _conforms, report, _text = validate(g, shacl_graph=mdr, inference="none", allow_warnings=True)
    checked = {DCTERMS.accrualPeriodicity, DCTERMS.language, DCTERMS["format"], DCTERMS.accessRights}
    failures = [
        (report.value(r, SH.focusNode), report.value(r, SH.resultPath))
        for r in report.subjects(RDF.type, SH.ValidationResult)
        if report.value(r, SH.resultPath) in checked
    ]
    assert failures == []


# --- cost ------------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_catalog_page_costs_the_same_queries_whatever_its_size(
    client, official, admin_user, reference_data, settings
):
    def queries(page_size):
        settings.DCAT_PAGE_SIZE = page_size
        catalog_changed()  # nothing cached
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/catalog.ttl").status_code == 200
        return len(captured)

    for i in range(2):
        publish(official, admin_user, title_ko=f"작은 {i}", fake_files=2)
    small = queries(2)
    for i in range(4):
        publish(official, admin_user, title_ko=f"큰 {i}", fake_files=3)
    harvested(official, admin_user)
    assert queries(7) == small
    # A second reader of the same page is served from the cache.
    with CaptureQueriesContext(connection) as captured:
        client.get("/catalog.ttl")
    assert len(captured) <= 2  # the session/middleware reads at most
    assert json.loads(client.get("/catalog.jsonld").content)["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
