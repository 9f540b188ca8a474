"""The query store of a published version: every tabular format loaded into one DuckDB file per variant, with
exact row counts and types, masked personal data, geometry, source order and the physical sort."""

import csv
import datetime as dt
import io
import json
import threading
from pathlib import Path

import duckdb
import pytest
from django.core.files import storage
from django.db import connection

from catalog.models import DatasetVersion
from catalog.querystore import engine
from catalog.querystore import selectors as qs_selectors
from catalog.querystore import services as qs_services
from catalog.querystore.build import table_name
from catalog.querystore.engine import PageSpec, run_sql
from catalog.querystore.models import QueryStore, QueryTable
from tests.catalog.workbooks import AIR_ROWS, CONTACT_ROWS, one_sheet_workbook, three_sheet_workbook
from tests.transactions.test_packaging import _zip, publish_files

pytestmark = pytest.mark.django_db

# A sensor table written newest first (the store sorts it by time), with Korean empty markers, thousands
# separators, coordinates and a phone column (personal data: stored masked).
SENSOR_HEADER = ["측정일시", "측정소", "PM10", "방문자수", "위도", "경도", "연락처", "정상"]


def sensor_rows(n=30):
    rows = []
    for i in range(n):
        ts = dt.datetime(2024, 6, 1) + dt.timedelta(hours=n - 1 - i)
        rows.append(
            [
                ts.strftime("%Y-%m-%d %H:%M"),
                ["정왕동", "대야동", "배곧동"][i % 3],
                "-" if i % 7 == 3 else str(20 + i),
                f"{1000 + i * 37:,}",
                f"{37.30 + i / 1000:.4f}",
                f"{126.70 + i / 1000:.4f}",
                f"010-2345-{6000 + i}" if i % 5 == 0 else "",
                "true" if i % 2 else "false",
            ]
        )
    return rows


def _csv(header, rows, delimiter=",") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


CP949_ROWS = [[f"똠햏 점검 {i}", "대야동", str(i), f"2024.01.{i % 28 + 1:02d}"] for i in range(45)]
TSV_ROWS = [[f"P{i:03d}", f"{i * 1.5}", f"{i % 4}"] for i in range(17)]
JSON_RECORDS = [{"id": i, "name": f"공원 {i}", "area": i * 10.5, "open": i % 2 == 0} for i in range(12)]
DATAGOKR = {
    "response": {
        "header": {"resultCode": "00", "resultMsg": "NORMAL SERVICE."},
        "body": {
            "items": {
                "item": [
                    {"stationName": f"측정소{i}", "pm10Value": str(30 + i), "dataTime": f"2024-06-01 {i:02d}:00"}
                    for i in range(9)
                ]
            },
            "numOfRows": 9,
            "pageNo": 1,
            "totalCount": 9,
        },
    }
}
GEOJSON = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": f"정류장 {i}", "routes": i},
            "geometry": {"type": "Point", "coordinates": [126.70 + i / 100, 37.30 + i / 100]},
        }
        for i in range(6)
    ]
    + [
        {
            "type": "Feature",
            "properties": {"name": "공원", "routes": 0},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[126.8, 37.4], [126.9, 37.4], [126.9, 37.5], [126.8, 37.5], [126.8, 37.4]]],
            },
        }
    ],
}

FILES = [
    ("시흥_대기질.csv", _csv(SENSOR_HEADER, sensor_rows()).encode("utf-8")),
    ("점검기록.csv", _csv(["비고", "지점명", "값", "점검일"], CP949_ROWS).encode("cp949")),
    ("주차.tsv", _csv(["코드", "요금", "층"], TSV_ROWS, delimiter="\t").encode("utf-8")),
    ("통계.xlsx", three_sheet_workbook()),
    ("공원.json", json.dumps(JSON_RECORDS, ensure_ascii=False).encode("utf-8")),
    ("측정소_api.json", json.dumps(DATAGOKR, ensure_ascii=False).encode("utf-8")),
    ("정류장.geojson", json.dumps(GEOJSON, ensure_ascii=False).encode("utf-8")),
    ("주차장.xlsx", one_sheet_workbook()),
    ("측정소.zip", _zip({"측정소/목록.csv": "측정소,위도,경도\n정왕동,37.34,126.73\n대야동,37.38,126.80\n".encode()})),
]


@pytest.fixture
def published(official, admin_user, reference_data):
    return publish_files(official, admin_user, FILES)


def _store_file(store: QueryStore) -> str:
    return storage.default_storage.path(store.file.name)


def _describe(path, table) -> dict[str, str]:
    con = duckdb.connect(path, read_only=True)
    try:
        return {name: typ for name, typ, *_ in con.execute(f'DESCRIBE "{table}"').fetchall()}
    finally:
        con.close()


def _rows(path, sql):
    con = duckdb.connect(path, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_every_format_is_loaded_with_exact_rows_and_types(published):
    result = qs_services.query_stores_build(version_id=published.pk)
    assert result == {"full": "ready", "sample": "ready"}
    full = QueryStore.objects.get(version=published, variant="full")
    assert full.state == "ready" and full.size > 0 and len(full.sha256) == 64
    assert full.file.name.startswith("querystore/")
    path = _store_file(full)
    tables = {t.name: t for t in QueryTable.objects.filter(store=full)}
    assert set(tables) == {
        "siheung_daegijil",
        "jeomgeomgirok",
        "jucha",
        "tonggye_daegijil_cheukjeong",
        "tonggye_damdangja_yeonrakcheo_2024",
        "gongwon",
        "cheukjeongso_api",
        "jeongryujang",
        "juchajang",
        "mokrok",
    }
    counts = {name: t.row_count for name, t in tables.items()}
    assert counts == {
        "siheung_daegijil": 30,
        "jeomgeomgirok": 45,
        "jucha": 17,
        "tonggye_daegijil_cheukjeong": len(AIR_ROWS),
        "tonggye_damdangja_yeonrakcheo_2024": len(CONTACT_ROWS),
        "gongwon": 12,
        "cheukjeongso_api": 9,
        "jeongryujang": 7,
        "juchajang": 3,
        "mokrok": 2,
    }
    for name, table in tables.items():  # the rows really are there, and _row is 1..n
        assert _rows(path, f'SELECT count(*), min(_row), max(_row), count(DISTINCT _row) FROM "{name}"') == [
            (table.row_count, 1, table.row_count, table.row_count)
        ]

    # CSV (UTF-8): typed by its Table Schema, the Korean markers empty, "1,037" a number, sorted by time.
    sensor = tables["siheung_daegijil"]
    assert _describe(path, "siheung_daegijil") == {
        "_row": "BIGINT",
        "측정일시": "TIMESTAMP",
        "측정소": "VARCHAR",
        "PM10": "BIGINT",
        "방문자수": "BIGINT",
        "위도": "DOUBLE",
        "경도": "DOUBLE",
        "연락처": "VARCHAR",
        "정상": "BOOLEAN",
    }
    assert [(c["name"], c["schema_type"], c["masked"]) for c in sensor.columns][:3] == [
        ("측정일시", "datetime", False),
        ("측정소", "string", False),
        ("PM10", "integer", False),
    ]
    assert next(c for c in sensor.columns if c["name"] == "연락처")["masked"] is True
    assert sensor.order_key == "측정일시"
    assert sensor.geometry == {"kind": "latlon", "lat": "위도", "lon": "경도"}
    stored = _rows(path, 'SELECT _row, "측정일시", "PM10", "방문자수", "연락처", "정상" FROM siheung_daegijil')
    # physically in time order (the file is newest first), _row still the line number in the file
    assert [r[1] for r in stored] == sorted(r[1] for r in stored)
    assert [r[0] for r in stored] == list(range(30, 0, -1))
    source = sensor_rows()
    by_row = {r[0]: r for r in stored}
    for i, row in enumerate(source, 1):
        got = by_row[i]
        assert got[1] == dt.datetime.strptime(row[0], "%Y-%m-%d %H:%M")
        assert got[2] == (None if row[2] == "-" else int(row[2]))
        assert got[3] == int(row[3].replace(",", ""))
        assert got[5] is (row[7] == "true")
        if row[6]:
            assert got[4] != row[6] and got[4].startswith("010-") and "****" in got[4]
        else:
            assert got[4] is None
    assert not [r for r in stored if r[4] and "2345" in r[4]]  # the middle digits never stored

    # CP949: transcoded in a stream; dates written 2024.01.02 read as DATE.
    assert _describe(path, "jeomgeomgirok") == {
        "_row": "BIGINT",
        "비고": "VARCHAR",
        "지점명": "VARCHAR",
        "값": "BIGINT",
        "점검일": "DATE",
    }
    assert _rows(path, 'SELECT "비고", "점검일" FROM jeomgeomgirok WHERE _row = 1') == [
        ("똠햏 점검 0", dt.date(2024, 1, 1))
    ]
    assert tables["jeomgeomgirok"].order_key == "점검일"

    # TSV
    assert _describe(path, "jucha") == {"_row": "BIGINT", "코드": "VARCHAR", "요금": "DOUBLE", "층": "BIGINT"}
    assert _rows(path, 'SELECT sum("요금"), sum("층") FROM jucha') == [
        (sum(i * 1.5 for i in range(17)), sum(i % 4 for i in range(17)))
    ]

    # XLSX: each sheet's table is its own table; the phone sheet masked.
    air = "tonggye_daegijil_cheukjeong"
    assert _describe(path, air) == {
        "_row": "BIGINT",
        "측정소": "VARCHAR",
        "측정일": "DATE",
        "미세먼지 PM10": "BIGINT",
        "미세먼지 PM2.5": "BIGINT",
        "비고": "VARCHAR",
    }
    assert tables[air].title == "통계.xlsx › 대기질 측정"
    assert _rows(path, f'SELECT "측정일", "미세먼지 PM10" FROM {air} ORDER BY _row LIMIT 2') == [
        (AIR_ROWS[0][1], AIR_ROWS[0][2]),
        (AIR_ROWS[1][1], AIR_ROWS[1][2]),
    ]
    phones = [r[0] for r in _rows(path, 'SELECT "휴대전화" FROM tonggye_damdangja_yeonrakcheo_2024 ORDER BY _row')]
    assert phones == ["010-****-6789", "010-****-5432", "031-***-2114"]

    # A workbook of one sheet, and a CSV inside a ZIP (coordinates: a lat/lon table).
    assert _describe(path, "juchajang") == {
        "_row": "BIGINT",
        "주차장명": "VARCHAR",
        "주차면수": "BIGINT",
        "요금": "BIGINT",
    }
    assert _rows(path, 'SELECT sum("주차면수") FROM juchajang') == [(465,)]
    assert tables["mokrok"].geometry == {"kind": "latlon", "lat": "위도", "lon": "경도"}

    # JSON records and data.go.kr's response.body.items.item
    assert _describe(path, "gongwon") == {
        "_row": "BIGINT",
        "id": "BIGINT",
        "name": "VARCHAR",
        "area": "DOUBLE",
        "open": "BOOLEAN",
    }
    assert _rows(path, "SELECT sum(id), sum(area), count(*) FILTER (WHERE open) FROM gongwon") == [
        (sum(range(12)), sum(i * 10.5 for i in range(12)), 6)
    ]
    assert _describe(path, "cheukjeongso_api") == {
        "_row": "BIGINT",
        "stationName": "VARCHAR",
        "pm10Value": "BIGINT",
        "dataTime": "TIMESTAMP",
    }

    # GeoJSON: properties, the geometry as GeoJSON text and each feature's bbox (hidden columns).
    geo = tables["jeongryujang"]
    assert geo.geometry == {"kind": "geojson"}
    described = _describe(path, "jeongryujang")
    assert described["geometry"] == "VARCHAR" and described["routes"] == "BIGINT"
    assert {described[c] for c in ("_minx", "_miny", "_maxx", "_maxy")} == {"DOUBLE"}
    assert "_minx" not in [c["name"] for c in geo.columns] and "geometry" in [c["name"] for c in geo.columns]
    shapes = _rows(path, "SELECT _row, geometry, _minx, _miny, _maxx, _maxy FROM jeongryujang ORDER BY _row")
    for (_row, text, *box), feature in zip(shapes, GEOJSON["features"]):
        assert json.loads(text)["type"] == feature["geometry"]["type"]
        coords = feature["geometry"]["coordinates"]
        if feature["geometry"]["type"] == "Point":
            assert box == pytest.approx([coords[0], coords[1], coords[0], coords[1]])
        else:
            assert box == pytest.approx([126.8, 37.4, 126.9, 37.5])

    # The sample store: the published sample rows (the preview: the first 20 rows of each table), same types.
    sample = QueryStore.objects.get(version=published, variant="sample")
    sample_tables = {t.name: t.row_count for t in QueryTable.objects.filter(store=sample)}
    assert sample_tables == {name: min(20, n) for name, n in counts.items()}
    assert _describe(_store_file(sample), "siheung_daegijil") == _describe(path, "siheung_daegijil")
    sample_phones = [r[0] for r in _rows(_store_file(sample), 'SELECT "연락처" FROM siheung_daegijil') if r[0]]
    assert sample_phones and all("****" in p for p in sample_phones)

    # The selectors: ready tables, engine sources with the local file, the page's status.
    assert [t.name for t in qs_selectors.tables_for_version(published)][0] == "siheung_daegijil"
    sources = qs_selectors.sources_for_version(published, "full")
    assert {s.store_path for s in sources} == {path}
    assert qs_selectors.store_status(published)["state"] == "ready"
    result = run_sql(sources, "SELECT count(*) FROM siheung_daegijil", max_rows=10, timeout=5, memory_limit="256MB")
    assert result.rows == [(30,)]
    # A bbox over the GeoJSON's features (each feature's own box): the polygon and the points inside.
    page = engine.page(
        sources, "jeongryujang", PageSpec(bbox=(126.72, 37.32, 126.85, 37.45), select=["name", "geometry"])
    )
    assert [r[0] for r in page.rows] == ["정류장 2", "정류장 3", "정류장 4", "정류장 5", "공원"]
    assert page.geometry_index == 1 and json.loads(page.rows[-1][1])["type"] == "Polygon"
    page = engine.page(sources, "siheung_daegijil", PageSpec(bbox=(126.70, 37.30, 126.705, 37.305), select=["PM10"]))
    assert len(page.rows) == 6  # rows 0..5 of the file lie in that box (0.001° apart)


def test_building_again_changes_nothing(published):
    qs_services.query_stores_build(version_id=published.pk)
    full = QueryStore.objects.get(version=published, variant="full")
    first = (full.file.name, full.sha256, list(full.tables.values_list("pk", flat=True)))
    assert qs_services.query_stores_build(version_id=published.pk) == {"full": "ready", "sample": "ready"}
    full.refresh_from_db()
    assert (full.file.name, full.sha256, list(full.tables.values_list("pk", flat=True))) == first
    assert full.attempts == 1


def test_a_withdrawn_version_is_not_served_and_a_superseded_one_is(published, official, admin_user):
    from catalog import services as catalog_services

    qs_services.query_stores_build(version_id=published.pk)
    new = catalog_services.version_start_new(actor=official, dataset=published.dataset, change_note="새 자료")
    DatasetVersion.objects.filter(pk=published.pk).update(state=DatasetVersion.State.SUPERSEDED)
    published.refresh_from_db()
    assert len(qs_selectors.sources_for_version(published, "full")) == 10  # superseded: still queryable
    assert new.state not in (DatasetVersion.State.PUBLISHED, DatasetVersion.State.SUPERSEDED)
    assert qs_services.query_stores_build(version_id=new.pk) == {"full": "not published", "sample": "not published"}
    DatasetVersion.objects.filter(pk=published.pk).update(state=DatasetVersion.State.WITHDRAWN)
    published.refresh_from_db()
    assert qs_selectors.sources_for_version(published, "full") == []
    assert qs_selectors.store_status(published)["state"] == "none"
    assert QueryStore.objects.filter(version=published, state="ready").count() == 2  # kept, not served


def test_a_file_that_cannot_be_loaded_fails_visibly_in_both_languages(published):
    from catalog.models import DataFile

    # The stored CSV no longer matches its schema's column count (damaged in storage): strict reading refuses.
    datafile = DataFile.objects.get(version=published, original_name="주차.tsv")
    with open(storage.default_storage.path(datafile.file.name), "ab") as fh:
        fh.write(b"X\t1\t2\t3\t4\r\n")
    result = qs_services.query_stores_build(version_id=published.pk)
    assert result["full"] == "failed"
    full = QueryStore.objects.get(version=published, variant="full")
    assert full.state == "failed" and full.lease is None and not full.file.name
    assert "주차.tsv" in full.error["ko"] and "query store" in full.error["en"]
    assert "쿼리 저장소" in full.error["ko"]
    status = qs_selectors.store_status(published)
    assert status["state"] == "failed" and status["error"] == full.error
    assert qs_selectors.tables_for_version(published, "full") == []
    # No half-written file is left behind: only the sample store's (its rows come from the checks' preview).
    sample = QueryStore.objects.get(version=published, variant="sample")
    assert result["sample"] == "ready"
    folder = Path(storage.default_storage.path(f"querystore/{published.pk}"))
    assert [p.name for p in folder.rglob("*") if p.is_file()] == [Path(sample.file.name).name]


def test_table_names_are_ascii_stable_and_unique():
    taken = set()
    assert table_name("시흥_대기질.csv", taken) == "siheung_daegijil"
    assert table_name("시흥_대기질.csv", taken) == "siheung_daegijil_2"
    assert table_name("2024 통계.xlsx", taken) == "t_2024_tonggye"
    assert table_name("!!!.csv", taken) == "table"
    long = table_name("가" * 80 + ".csv", taken)
    assert len(long) <= 63 and long.isascii()


@pytest.mark.django_db(transaction=True)
def test_two_builds_at_once_make_one_store(official, admin_user, reference_data):
    version = publish_files(official, admin_user, FILES[:2])
    results, errors = [], []

    def build():
        try:
            results.append(qs_services.query_store_build(version_id=version.pk, variant="full"))
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == ["building", "ready"] or results == ["ready", "ready"]
    store = QueryStore.objects.get(version=version, variant="full")
    assert store.state == "ready" and store.attempts == 1
    assert store.tables.count() == 2
    assert storage.default_storage.listdir(f"querystore/{version.pk}")[1] == [store.file.name.rsplit("/", 1)[1]]


def test_columns_duckdb_would_take_for_another_are_stored_under_their_own_name(official, admin_user, reference_data):
    """Headers the checks accept but DuckDB's names would merge: "id" and "ID" (SQL names are case-insensitive), a
    column called `_row` (the hidden row number), a GeoJSON property called geometry. DuckDB renamed the second
    silently, so the API and SQL showed the first column's values (or the row numbers) under its name; a GeoJSON
    property called geometry failed the whole store."""
    features = [
        {
            "type": "Feature",
            "properties": {"geometry": f"g{i}", "n": i},
            "geometry": {"type": "Point", "coordinates": [126.7, 37.3]},
        }
        for i in range(3)
    ]
    version = publish_files(
        official,
        admin_user,
        [
            ("코드.csv", _csv(["id", "ID", "_row"], [["a1", "b1", "99"], ["a2", "b2", "98"]]).encode("utf-8")),
            ("구역.geojson", json.dumps({"type": "FeatureCollection", "features": features}).encode("utf-8")),
        ],
    )
    assert qs_services.query_stores_build(version_id=version.pk) == {"full": "ready", "sample": "ready"}
    for variant in ("full", "sample"):
        tables = {t.name: t for t in qs_selectors.tables_for_version(version, variant)}
        codes = tables["kodeu"]
        assert [c["name"] for c in codes.columns] == ["id", "ID_2", "_row_2"]
        assert [c.get("source_name") for c in codes.columns] == [None, "ID", "_row"]
        sources = qs_selectors.sources_for_version(version, variant)
        page = engine.page(sources, "kodeu", PageSpec(limit=5))
        assert page.rows == [("a1", "b1", 99), ("a2", "b2", 98)]
        result = run_sql(sources, 'SELECT "ID_2", _row_2 FROM kodeu', max_rows=5, timeout=5, memory_limit="128MB")
        assert result.rows == [("b1", 99), ("b2", 98)]
        zones = tables["guyeok"]
        names = [c["name"] for c in zones.columns]
        assert names[:2] == ["geometry_2", "n"] and names[-1] == "geometry" and names.count("geometry") == 1
        page = engine.page(sources, "guyeok", PageSpec(select=["geometry_2", "geometry"], limit=5))
        assert page.rows[0][0] == "g0" and json.loads(page.rows[0][1])["type"] == "Point"
