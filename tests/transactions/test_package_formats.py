"""Every format the ingest accepts (CSV in UTF-8 and CP949, TSV, XLSX, JSON, GeoJSON, and the members of
a ZIP) is packaged by the real worker into a ZIP that verifies the way a buyer checks it: unzip,
`sha256sum -c MANIFEST-SHA256`, frictionless on datapackage.json, each resource's bytes and sha256."""

import hashlib
import io
import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from django.core.files import storage
from django.db.models import Q

from catalog.models import DataFile
from tests.transactions.conftest import offer_of, place_order
from tests.transactions.test_packaging import publish_files, wait_for
from transactions.models import Package
from transactions.tasks import build_package

# (`storage.default_storage`, never `default_storage` imported here: see test_packaging.py.)

LOTS = [
    ("반월당 공영주차장", 128.5934, 35.8656, 120),
    ("동성로 노상주차장", 128.5960, 35.8690, 45),
    ("수성못 주차장", 128.6185, 35.8280, 300),
    ("똠방각하 주차장", 128.5700, 35.8800, 12),
]

UTF8_CSV = "주차장명,경도,위도,주차면수\n" + "".join(f"{n},{x},{y},{c}\n" for n, x, y, c in LOTS)
# CP949 (Korean Excel's "CSV") with CRLF and a syllable only CP949 has (똠).
CP949_TEXT = "주차장명,요금,비고\r\n" + "".join(
    f"{n},{1000 + i * 500},야간 무료\r\n" for i, (n, *_r) in enumerate(LOTS)
)
TSV_TEXT = "주차장명\t운영시간\t주차면수\n" + "".join(f"{n}\t09:00-18:00\t{c}\n" for n, _x, _y, c in LOTS)
JSON_DATA = [{"주차장명": n, "주차면수": c, "요금": {"기본": 1000, "추가": 500}} for n, _x, _y, c in LOTS]
GEOJSON_DATA = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [x, y]},
            "properties": {"주차장명": n, "주차면수": c},
        }
        for n, x, y, c in LOTS
    ],
}


def _xlsx() -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "주차장"
    ws.append(["주차장명", "주차면수", "요금"])
    for i, (n, _x, _y, c) in enumerate(LOTS):
        ws.append([n, c, 1000 + i * 500])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8")


GEOJSON = _json(GEOJSON_DATA)
FILES = [
    ("주차장.csv", UTF8_CSV.encode("utf-8")),
    ("요금표.csv", CP949_TEXT.encode("cp949")),
    ("운영시간.tsv", TSV_TEXT.encode("utf-8")),
    ("주차장현황.xlsx", _xlsx()),
    ("주차장목록.json", _json(JSON_DATA)),
    ("대구시 주차장 위치.geojson", GEOJSON),
    # Korean GIS tools still export CP949; the ingest accepts it, the buyer must get UTF-8 (RFC 7946).
    ("주차장_cp949.geojson", GEOJSON.decode("utf-8").encode("cp949")),
    ("묶음.zip", _zip({"묶음/요금.csv": UTF8_CSV.encode("utf-8"), "묶음/위치.geojson": GEOJSON})),
]
GEO = "application/geo+json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.django_db(transaction=True)
def test_the_worker_packages_every_ingest_format_into_a_package_that_verifies(
    celery_worker, official, buyer, admin_user, reference_data, tmp_path
):
    version = publish_files(official, admin_user, FILES, title_ko="대구시 주차장 위치")
    assert {f.format for f in DataFile.objects.filter(version=version)} == {
        "csv",
        "tsv",
        "xlsx",
        "json",
        "geojson",
        "zip",
    }
    assert not DataFile.objects.filter(version=version, check_state="failed").exists()
    assert DataFile.objects.get(version=version, original_name="주차장_cp949.geojson").encoding == "cp949"
    order = place_order(buyer, offer_of(version.dataset, "free"), method="free")
    # Done, or an attempt failed (a retry is 30 s away: its error is the answer already).
    package = wait_for(
        lambda: (
            Package.objects.filter(entitlement__order_item__order=order)
            .filter(Q(state__in=["ready", "failed"]) | ~Q(error=""))
            .first()
        ),
        timeout=120,
    )
    # Built on the first attempt: before the fix every file without a Table Schema (GeoJSON, JSON)
    # raised TypeError in datapackage.json and the build was retried until it failed.
    assert package.state == Package.State.READY, package.error
    assert package.attempts == 1

    local = Path(storage.default_storage.path(package.file.name))
    with zipfile.ZipFile(local) as zf:
        zf.extractall(tmp_path)
    data = {
        "data/주차장.csv",
        "data/요금표.csv",
        "data/운영시간.tsv",
        "data/주차장현황.xlsx",
        "data/주차장목록.json",
        "data/대구시 주차장 위치.geojson",
        "data/주차장_cp949.geojson",
        "data/묶음/요금.csv",
        "data/묶음/위치.geojson",
    }
    excel = {"data/excel/주차장.csv", "data/excel/요금표.csv", "data/excel/운영시간.tsv", "data/excel/묶음/요금.csv"}
    utf8 = {"data/utf8/주차장_cp949.geojson"}  # JSON between systems is UTF-8 (RFC 8259): a copy of the CP949 one
    check = subprocess.run(
        ["sha256sum", "-c", "--strict", "MANIFEST-SHA256"], cwd=tmp_path, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert (
        check.stdout.count(": OK") == len(data) + len(excel) + len(utf8) + 3
    )  # datapackage.json, README.md, LICENSE.txt

    # The files as uploaded (CP949 ones too), byte for byte, ZIP members as extracted; each CSV/TSV
    # also as an Excel copy: the same text in UTF-8 with a BOM.
    for name, raw in FILES:
        if name != "묶음.zip":
            assert (tmp_path / "data" / name).read_bytes() == raw, name
    assert (tmp_path / "data/묶음/위치.geojson").read_bytes() == GEOJSON
    assert (tmp_path / "data/excel/요금표.csv").read_bytes() == b"\xef\xbb\xbf" + CP949_TEXT.encode()
    assert (tmp_path / "data/excel/운영시간.tsv").read_bytes() == b"\xef\xbb\xbf" + TSV_TEXT.encode()
    readme = (tmp_path / "README.md").read_text(encoding="utf-8").splitlines()
    assert (
        "| GeoJSON |" in (line := next(x for x in readme if "`data/주차장_cp949.geojson`" in x)) and "| cp949 |" in line
    )

    descriptor = json.loads((tmp_path / "datapackage.json").read_text(encoding="utf-8"))
    resources = {r["path"]: r for r in descriptor["resources"]}
    assert set(resources) == data | excel | utf8
    for path, resource in resources.items():
        file = tmp_path / path
        assert resource["bytes"] == file.stat().st_size, path
        assert resource["hash"] == f"sha256:{_sha256(file)}", path

    for path in ("data/대구시 주차장 위치.geojson", "data/주차장_cp949.geojson", "data/묶음/위치.geojson"):
        geo = resources[path]
        assert json.loads((tmp_path / path).read_text(encoding=geo["encoding"])) == GEOJSON_DATA
        assert (geo["format"], geo["mediatype"]) == ("geojson", GEO), geo
        assert geo["encoding"] == ("cp949" if "cp949" in path else "utf-8"), geo
        assert "schema" not in geo and "dialect" not in geo and "rows" not in geo  # a FeatureCollection is not a table
        assert geo["type"] == "json"
    # The CP949 GeoJSON stays CP949 in data/ (its SHA-256 is the page's) and comes as UTF-8 in data/utf8/.
    copy = resources["data/utf8/주차장_cp949.geojson"]
    assert (tmp_path / copy["path"]).read_bytes() == GEOJSON  # the same text, UTF-8, no BOM
    assert copy["encoding"] == "utf-8" and copy["derivedFrom"] == "data/주차장_cp949.geojson"
    assert (copy["format"], copy["mediatype"], copy["type"]) == ("geojson", GEO, "json")
    assert "RFC 8259" in copy["description"]
    assert any(
        x.startswith("| `data/utf8/주차장_cp949.geojson` | `data/주차장_cp949.geojson` | cp949 |") for x in readme
    )
    js = resources["data/주차장목록.json"]
    assert (js["format"], js["mediatype"], js["encoding"]) == ("json", "application/json", "utf-8")
    assert json.loads((tmp_path / js["path"]).read_text(encoding="utf-8")) == JSON_DATA
    assert (
        "schema" not in js and js["type"] == "json"
    )  # the checks' schema is of their flattened copy ("요금.기본"), not of this file
    xlsx = resources["data/주차장현황.xlsx"]
    assert (xlsx["format"], xlsx["mediatype"]) == ("xlsx", XLSX) and "encoding" not in xlsx
    assert [f["name"] for f in xlsx["schema"]["fields"]] == ["주차장명", "주차면수", "요금"]
    assert xlsx["type"] == "table" and xlsx["rows"] == len(LOTS)
    assert resources["data/운영시간.tsv"]["dialect"]["delimiter"] == "\t"
    assert resources["data/요금표.csv"]["encoding"] == "cp949"
    assert resources["data/excel/요금표.csv"]["encoding"] == "utf-8-sig"
    assert resources["data/excel/운영시간.tsv"]["dialect"]["delimiter"] == "\t"
    for path in ("data/주차장.csv", "data/묶음/요금.csv", "data/excel/주차장.csv", "data/excel/묶음/요금.csv"):
        assert [f["name"] for f in resources[path]["schema"]["fields"]] == ["주차장명", "경도", "위도", "주차면수"]
    assert len({r["name"] for r in resources.values()}) == len(resources)

    # What a buyer runs: frictionless reads the descriptor strictly, then checks every resource
    # (bytes and hash of each file, the rows of each table against its schema).
    from frictionless import Package as DataPackage

    assert not [e.message for e in DataPackage.metadata_validate(descriptor)]
    report = DataPackage(str(tmp_path / "datapackage.json")).validate()
    assert report.valid, report.flatten(["taskNumber", "rowNumber", "fieldName", "type", "note"])
    assert len(report.tasks) == len(data | excel | utf8)


@pytest.mark.django_db
def test_a_datapackage_json_that_cannot_be_built_fails_the_package_at_once(buyer, publish, parked_package_builds):
    """Stored metadata frictionless refuses is not going to change by retrying: the package fails on the
    first attempt with the reason, instead of being retried four times (minutes) before failing anyway."""
    dataset = publish()
    DataFile.objects.filter(version__dataset=dataset).update(
        table_schema={"fields": [{"name": "측정소명", "type": "no-such-type"}]}
    )
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package = Package.objects.get(entitlement__order_item__order=order)
    assert build_package.apply(args=[package.pk]).get() == "failed"
    package.refresh_from_db()
    assert package.state == Package.State.FAILED and package.attempts == 1
    assert "datapackage.json" in package.error and "no-such-type" in package.error
