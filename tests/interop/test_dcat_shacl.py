"""The DCAT-AP output validates against the official DCAT-AP 3.0.1 SHACL shapes (shapes.ttl with range.ttl) with zero
results of severity sh:Violation: the demo catalog, a dataset with every optional field filled (a harvested one with
link resources too), and the paged catalog walked by its Hydra links. Each serialization parses back with rdflib.

The shapes are read where the project's standards live (never copied into the repository): DCAT_AP_SHAPES_DIR, else
`shared/standards/dcat-ap-3.0.1` found walking up from the repository, else /work/shared/…; missing is a failure."""

import io
import os
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from pyshacl import validate
from rdflib import Graph, Namespace, URIRef

from catalog.harvest.models import ExternalResource, HarvestedDataset, HarvestSource
from catalog.models import CatalogEntry, DataFile, Licence, Theme
from tests.catalog.test_dataset_page import BBOX, air_csv, publish

ROOT = Path(__file__).resolve().parents[2]
SHAPES = ("shapes.ttl", "range.ttl")
# Plain namespaces (rdflib's closed ones warn when pytest looks at a module's globals).
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCTERMS = Namespace("http://purl.org/dc/terms/")
RDF = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")
SH = Namespace("http://www.w3.org/ns/shacl#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
FORMATS = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "xml"}


def shapes_dir() -> Path:
    candidates = []
    if os.environ.get("DCAT_AP_SHAPES_DIR"):
        candidates.append(Path(os.environ["DCAT_AP_SHAPES_DIR"]))
    candidates += [parent / "shared" / "standards" / "dcat-ap-3.0.1" for parent in (ROOT, *ROOT.parents)]
    candidates.append(Path("/work/shared/standards/dcat-ap-3.0.1"))
    for candidate in candidates:
        if all((candidate / name).is_file() for name in SHAPES):
            return candidate
    pytest.fail(
        "The DCAT-AP 3.0.1 shapes (shapes.ttl, range.ttl) were not found: set DCAT_AP_SHAPES_DIR to the folder that "
        f"holds them (looked in: {', '.join(str(c) for c in candidates)})"
    )


@pytest.fixture(scope="session")
def shapes() -> Graph:
    folder = shapes_dir()
    g = Graph()
    for name in SHAPES:
        g.parse(folder / name, format="turtle")
    assert len(g) > 500, "the shapes files look empty"
    return g


def violations(data: Graph, shapes: Graph) -> list[str]:
    """Every sh:Violation of `data` against the shapes, each as a readable line (focus, path, message)."""
    _conforms, report, _text = validate(data, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True)
    lines = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        if report.value(result, SH.resultSeverity) != SH.Violation:
            continue
        lines.append(
            f"{report.value(result, SH.focusNode)} {report.value(result, SH.resultPath)}: "
            f"{report.value(result, SH.resultMessage)} (value {report.value(result, SH.value)})"
        )
    return sorted(lines)


def parse_all(client, url: str, **headers) -> Graph:
    """The document at `url` in each of the three serializations, each parsed back; all three must agree."""
    graphs = {}
    for ext, fmt in FORMATS.items():
        response = client.get(url.replace(".ttl", f".{ext}"), **headers)
        assert response.status_code == 200, (url, ext, response.content[:300])
        graphs[ext] = Graph().parse(data=response.content, format=fmt)
    sizes = {ext: len(g) for ext, g in graphs.items()}
    assert len(set(sizes.values())) == 1, f"the serializations differ: {sizes}"
    return graphs["ttl"]


def full_dataset(official, admin_user):
    """A dataset with every field filled: Korean and English texts, keywords, department, contact, coverage (area,
    box, period), legal basis, collection method, limits, notes, a licence; a CSV with a data dictionary (free sample),
    a ZIP of two CSVs, paid and free offers; then a second version with a change note."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("정왕동.csv", "지점,값\n정왕1,3\n정왕2,4\n")
        z.writestr("대야동.csv", "지점,값\n대야1,5\n")
    version = publish(
        official,
        admin_user,
        files=[("시흥_대기질.csv", air_csv()), ("지점별.zip", archive.getvalue())],
        offers=({"kind": "free"}, {"kind": "one_off", "price_krw": 5000, "cost_basis": "파일 가공·전송 비용"}),
        title_en="Siheung air quality (hourly)",
        description_ko="정왕동 **측정소**의 시간별 미세먼지 자료입니다. 매월 갱신합니다.",
        description_en="Hourly fine dust readings of the Jeongwang-dong station, updated monthly.",
        spatial_bbox=BBOX,
        spatial_area="경기도 시흥시 정왕동",
        temporal_start=date(2024, 1, 1),
        temporal_end=date(2024, 12, 31),
        legal_basis="대기환경보전법 제3조",
        collection_method="자동 측정망 (1시간 평균)",
        data_limits="장비 점검 시간의 값은 비어 있습니다.",
        notes="측정소 이전 이력 있음",
        justification="담당자 사무실 번호입니다",
    )
    csv_file = DataFile.objects.get(version=version, original_name="시흥_대기질.csv")
    csv_file.dictionary = {
        "측정소명": {"description_ko": "측정소 이름", "description_en": "Station name", "unit": "", "codes": []},
        "미세먼지": {"description_ko": "PM10 1시간 평균", "description_en": "PM10, hourly mean", "unit": "㎍/㎥"},
    }
    csv_file.save(update_fields=["dictionary"])
    return version


def harvested(official, admin_user):
    """A harvested listing: its source record and three link resources (a CSV with a checksum, an API, an unknown
    format), as catalog.harvest's importer leaves them."""
    version = publish(
        official,
        admin_user,
        fake_files=1,
        title_ko="대구광역시 버스 정류장 위치",
        tags="버스, 정류장",
        theme=Theme.objects.get(code="transport"),
        update_cadence="irregular",
        licence=Licence.objects.get(code="cc-by-4.0"),
    )
    # A harvested listing has no file of its own and may come without a description (the importer writes its
    # version directly; here the one file that submission needs is taken away again).
    DataFile.objects.filter(version=version).delete()
    type(version).objects.filter(pk=version.pk).update(description_ko="")
    source = HarvestSource.objects.create(
        name="대구 열린데이터 포털",
        kind="ckan",
        url="https://data.daegu.example/",
        organization=version.dataset.publisher,
        created_by=admin_user,
    )
    HarvestedDataset.objects.create(
        dataset=version.dataset,
        source=source,
        identifier="4f1c0b7e-bus-stops",
        source_url="https://data.daegu.example/dataset/bus-stops",
        source_modified=timezone.now() - timedelta(days=3),
        imported_hash="0" * 64,
        source_hash="1" * 64,
        harvested_at=timezone.now(),
    )
    for position, (name, url, fmt, media, size, checksum) in enumerate(
        [
            ("정류장 목록", "https://data.daegu.example/files/stops 2024.csv", "CSV", "", 12345, "sha256:" + "ab" * 32),
            ("정류장 API", "https://api.daegu.example/stops?key=", "API", "", None, ""),
            (
                "정류장 도면",
                "https://data.daegu.example/files/stops.hwp",
                "HWP",
                "application/x-hwp",
                999,
                "md5:" + "c" * 32,
            ),
        ]
    ):
        ExternalResource.objects.create(
            version=version,
            position=position,
            name=name,
            url=url,
            format=fmt,
            media_type=media,
            size=size,
            checksum=checksum,
            description="원본 포털의 자료",
        )
    return version


def test_the_shapes_are_found_and_a_violation_is_seen(shapes):
    """The validator is not vacuous: a dataset without a title or description, a checksum without a value and a
    distribution without an access URL are each reported as violations."""
    data = Graph()
    dataset, dist, checksum = URIRef("https://x.test/d"), URIRef("https://x.test/d#f"), URIRef("https://x.test/c")
    data.add((dataset, RDF.type, DCAT.Dataset))
    data.add((dataset, DCAT.distribution, dist))
    data.add((dist, RDF.type, DCAT.Distribution))
    data.add((dist, SPDX.checksum, checksum))
    data.add((checksum, RDF.type, SPDX.Checksum))
    found = violations(data, shapes)
    text = "\n".join(found)
    assert "http://purl.org/dc/terms/title" in text and "http://purl.org/dc/terms/description" in text
    assert "accessURL" in text and "checksumValue" in text


@pytest.mark.django_db
def test_a_dataset_with_every_optional_field_has_no_violation(client, official, admin_user, reference_data, shapes):
    version = full_dataset(official, admin_user)
    g = parse_all(client, f"/dataset/{version.dataset.slug}.ttl")
    assert violations(g, shapes) == []
    node = next(iter(g.subjects(RDF.type, DCAT.Dataset)))
    assert str(node).endswith(f"/catalog/datasets/{version.dataset.slug}/")
    # What "every optional field" means here: each of these is present.
    for prop in (
        DCTERMS["title"],
        DCTERMS.description,
        DCTERMS.identifier,
        DCAT.keyword,
        DCAT.theme,
        DCTERMS.publisher,
        DCAT.contactPoint,
        DCTERMS.spatial,
        DCTERMS.temporal,
        DCTERMS.accrualPeriodicity,
        DCTERMS.issued,
        DCTERMS.modified,
        DCTERMS.language,
        DCAT.landingPage,
        DCTERMS.accessRights,
        DCTERMS.provenance,
        DCAT.version,
        DCAT.distribution,
        ADMS.sample,
    ):
        assert g.value(node, prop) is not None, prop


@pytest.mark.django_db
def test_a_harvested_listing_with_link_resources_has_no_violation(client, official, admin_user, reference_data, shapes):
    version = harvested(official, admin_user)
    g = parse_all(client, f"/dataset/{version.dataset.slug}.ttl")
    assert violations(g, shapes) == []


@pytest.mark.django_db
def test_the_demo_catalog_has_no_violation(client, reference_data, settings, tmp_path, shapes):
    """The whole demo catalog (every page), in each serialization, validated together."""
    settings.VAR_DIR = tmp_path
    call_command("load_demo", verbosity=0)
    total = CatalogEntry.objects.count()
    assert total >= 25
    settings.DCAT_PAGE_SIZE = 10
    merged, url, pages = Graph(), "/catalog.ttl", 0
    while url:
        g = parse_all(client, url)
        merged += g
        pages += 1
        view = next(iter(g.subjects(RDF.type, HYDRA.PartialCollectionView)))
        following = g.value(view, HYDRA.next)
        url = str(following).replace("http://testserver", "") if following else None
    assert pages == -(-total // 10)
    assert len(set(merged.subjects(RDF.type, DCAT.Dataset))) == total
    assert violations(merged, shapes) == []


@pytest.mark.django_db
def test_the_paged_catalog_of_full_and_harvested_datasets_has_no_violation(
    client, official, admin_user, reference_data, settings, shapes
):
    full_dataset(official, admin_user)
    harvested(official, admin_user)
    for i in range(3):
        publish(official, admin_user, title_ko=f"시흥시 공영주차장 현황 {i}", fake_files=1)
    settings.DCAT_PAGE_SIZE = 2
    for page in (1, 2, 3):
        g = parse_all(client, f"/catalog.ttl?page={page}")
        assert violations(g, shapes) == [], page
        assert len(set(g.subjects(RDF.type, DCAT.Dataset))) == (2 if page < 3 else 1)
