"""catalog.ingest.formats: XLSX, JSON and GeoJSON to CSV. Every fixture is made here, in tmp_path."""

import csv
import dataclasses
import datetime as dt
import json
import os

import pytest
from django.utils import translation

from catalog.ingest.errors import IngestError
from catalog.ingest.formats import geojson_to_csv, json_to_csv, xlsx_to_csv


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def english(message) -> str:
    with translation.override("en"):
        return str(message)


def as_json(report):
    return json.loads(json.dumps(dataclasses.asdict(report)))


def raises(code, func, *args, **kw) -> IngestError:
    with pytest.raises(IngestError) as info:
        func(*args, **kw)
    assert info.value.code == code, (info.value.code, info.value.detail)
    return info.value


# --- XLSX -------------------------------------------------------------------------------------


def make_xlsx(path, sheets):
    """sheets: {title: [row, …]}; a row is a list of values, None for an empty cell."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value is not None:
                    cell = ws.cell(row=r, column=c, value=value)
                    if isinstance(value, dt.datetime) and value.hour == value.minute == value.second == 0:
                        cell.number_format = "yyyy-mm-dd"
                    elif isinstance(value, dt.datetime):
                        cell.number_format = "yyyy-mm-dd hh:mm"
    wb.save(path)
    return path


def open_fds_for(path) -> int:
    real = os.path.realpath(path)
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == real:
                count += 1
        except OSError:
            pass
    return count


def test_xlsx_values_headers_and_trailing_rows(tmp_path):
    src = make_xlsx(
        tmp_path / "air.xlsx",
        {
            "빈시트": [],
            "측정자료": [
                ["측정소명", "측정일시", "측정일", "미세먼지\n(㎍/㎥)", "오존(ppm)", "점검", None, "비고"],
                ["정왕동", dt.datetime(2024, 1, 1, 13, 30), dt.datetime(2024, 1, 1), 31, 0.1 + 0.2, True, None, "정상"],
                [
                    "대야동",
                    dt.datetime(2024, 1, 2, 0, 0, 0, 999_999),
                    dt.datetime(2024, 1, 2),
                    12345678901234,
                    1.5,
                    False,
                    None,
                    None,
                ],
                [None] * 8,  # an empty row inside the data is kept
                ["목감동", None, None, -7, 2.0, None, None, "값 없음"],
                [None, None, None],
                [None],
            ],
        },
    )
    dst = tmp_path / "out.csv"
    report = xlsx_to_csv(src, dst)
    assert as_json(report) == {
        "sheet_name": "측정자료",
        "sheet_names": ["빈시트", "측정자료"],
        "rows_written": 4,
        "columns": ["측정소명", "측정일시", "측정일", "미세먼지 (㎍/㎥)", "오존(ppm)", "점검", "column_G", "비고"],
        "header_row": 1,
        "title": None,
        "rows_with_extra_cells": 0,
        "header_depth": 1,
    }
    assert read_csv(dst) == [
        ["측정소명", "측정일시", "측정일", "미세먼지 (㎍/㎥)", "오존(ppm)", "점검", "column_G", "비고"],
        ["정왕동", "2024-01-01 13:30:00", "2024-01-01", "31", "0.3", "TRUE", "", "정상"],
        ["대야동", "2024-01-02 00:00:01", "2024-01-02", "12345678901234", "1.5", "FALSE", "", ""],
        ["", "", "", "", "", "", "", ""],
        ["목감동", "", "", "-7", "2", "", "", "값 없음"],
    ]
    assert dst.read_bytes().startswith("측정소명,".encode())  # UTF-8, no BOM
    assert open_fds_for(src) == 0  # the read-only workbook was closed


def test_xlsx_title_row_above_header_and_ragged_rows(tmp_path):
    src = make_xlsx(
        tmp_path / "lamps.xlsx",
        {
            "Sheet1": [
                [None],
                ["2024년 시흥시 가로등 현황"],
                ["(단위: 개)"],
                ["동", "개수", "설치년도"],
                ["정왕동", 120, 2019],
                ["배곧동", 80, 2021, "메모", None],  # a value right of the header is dropped and counted
            ]
        },
    )
    dst = tmp_path / "out.csv"
    report = xlsx_to_csv(src, dst)
    assert report.title == "2024년 시흥시 가로등 현황"
    assert report.header_row == 4
    assert report.rows_with_extra_cells == 1
    assert read_csv(dst) == [["동", "개수", "설치년도"], ["정왕동", "120", "2019"], ["배곧동", "80", "2021"]]


def test_xlsx_single_column_is_not_mistaken_for_a_title(tmp_path):
    src = make_xlsx(tmp_path / "one.xlsx", {"S": [["이름"], ["홍길동"], ["김철수"]]})
    dst = tmp_path / "out.csv"
    report = xlsx_to_csv(src, dst)
    assert report.title is None and report.header_row == 1 and report.rows_written == 2
    assert read_csv(dst) == [["이름"], ["홍길동"], ["김철수"]]


def test_xlsx_sheet_choice(tmp_path):
    src = make_xlsx(tmp_path / "two.xlsx", {"가": [["a"], [1]], "나": [["b", "c"], [2, 3]]})
    dst = tmp_path / "out.csv"
    assert xlsx_to_csv(src, dst).sheet_name == "가"
    assert xlsx_to_csv(src, dst, sheet="나").columns == ["b", "c"]
    assert read_csv(dst) == [["b", "c"], ["2", "3"]]
    assert xlsx_to_csv(src, dst, sheet=1).sheet_name == "나"
    error = raises("xlsx_sheet_not_found", xlsx_to_csv, src, dst, sheet="다")
    assert "가, 나" in english(error.message)


def test_xlsx_formula_without_cached_value_is_empty(tmp_path):
    src = make_xlsx(tmp_path / "f.xlsx", {"S": [["a", "b"], [1, "=A2+1"]]})
    dst = tmp_path / "out.csv"
    xlsx_to_csv(src, dst)
    assert read_csv(dst) == [["a", "b"], ["1", ""]]  # openpyxl never calculates; Excel would have cached 2


def test_xlsx_empty_workbook(tmp_path):
    src = make_xlsx(tmp_path / "empty.xlsx", {"A": [], "B": [[None, None]]})
    raises("xlsx_empty", xlsx_to_csv, src, tmp_path / "out.csv")


def test_xls_and_lookalikes_are_refused(tmp_path):
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    error = raises("xls_unsupported", xlsx_to_csv, xls, tmp_path / "out.csv")
    assert "save as" in english(error.message).lower() and ".xlsx" in english(error.message)

    html = tmp_path / "report.xls"  # many Korean systems export an HTML table named .xls
    html.write_text("<html><body><table><tr><td>동</td></tr></table></body></html>", encoding="utf-8")
    raises("xls_unsupported", xlsx_to_csv, html, tmp_path / "out.csv")

    encrypted = tmp_path / "locked.xlsx"
    encrypted.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600 + "EncryptedPackage".encode("utf-16-le"))
    raises("xlsx_encrypted", xlsx_to_csv, encrypted, tmp_path / "out.csv")


def test_corrupt_xlsx(tmp_path):
    good = make_xlsx(tmp_path / "good.xlsx", {"S": [["a"], [1]]})
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(good.read_bytes()[:1500])
    raises("xlsx_corrupt", xlsx_to_csv, truncated, tmp_path / "out.csv")

    garbage = tmp_path / "garbage.xlsx"
    garbage.write_bytes(b"\x00\x01 this is not a workbook")
    raises("xlsx_corrupt", xlsx_to_csv, garbage, tmp_path / "out.csv")

    import zipfile

    not_excel = tmp_path / "other.xlsx"  # a ZIP, but not a workbook
    with zipfile.ZipFile(not_excel, "w") as zf:
        zf.writestr("a.csv", "a\n1\n")
    raises("xlsx_corrupt", xlsx_to_csv, not_excel, tmp_path / "out.csv")

    # A damaged sheet XML is found only while streaming.
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(good) as zi, zipfile.ZipFile(broken, "w") as zo:
        for info in zi.infolist():
            data = zi.read(info)
            if info.filename.startswith("xl/worksheets/"):
                data = data[: len(data) // 2]
            zo.writestr(info, data)
    raises("xlsx_corrupt", xlsx_to_csv, broken, tmp_path / "out.csv")


# --- JSON -------------------------------------------------------------------------------------


def write_json(path, value, **kw):
    path.write_text(json.dumps(value, ensure_ascii=False, **kw), encoding=kw.pop("encoding", "utf-8"))
    return path


def test_json_top_level_array_with_nested_objects(tmp_path):
    src = tmp_path / "a.json"
    src.write_text(
        '[{"이름": "정왕동 공원", "면적": 12.50, "개장": true, "주소": {"도로명": "정왕대로 1", "우편": "15073"}},\n'
        ' {"이름": "배곧 공원", "면적": 3, "시설": ["벤치", "화장실"], "개장": false, "비고": null,'
        ' "주소": {"도로명": "배곧로 2", "좌표": {"x": 1, "y": 2}}},\n'
        ' "not an object", {"이름": "빈 주소", "주소": {}}]',
        encoding="utf-8",
    )
    dst = tmp_path / "out.csv"
    report = json_to_csv(src, dst)
    columns = ["이름", "면적", "개장", "주소.도로명", "주소.우편", "시설", "비고", "주소.좌표", "주소"]
    assert as_json(report) == {
        "rows_written": 3,
        "columns": columns,
        "root_path": "",
        "skipped_items": 1,
        "encoding": "utf-8",
    }
    assert read_csv(dst) == [
        columns,
        ["정왕동 공원", "12.50", "true", "정왕대로 1", "15073", "", "", "", ""],
        ["배곧 공원", "3", "false", "배곧로 2", "", '["벤치", "화장실"]', "", '{"x": 1, "y": 2}', ""],
        ["빈 주소", "", "", "", "", "", "", "", ""],
    ]


def test_json_data_go_kr_envelope(tmp_path):
    src = write_json(
        tmp_path / "api.json",
        {
            "response": {
                "header": {"resultCode": "00", "resultMsg": "NORMAL SERVICE."},
                "body": {
                    "items": {
                        "item": [
                            {"stationName": "정왕동", "pm10Value": "31"},
                            {"stationName": "시화산단", "pm10Value": "-"},
                        ]
                    },
                    "numOfRows": 2,
                    "pageNo": 1,
                    "totalCount": 2,
                },
            }
        },
    )
    dst = tmp_path / "out.csv"
    report = json_to_csv(src, dst)
    assert report.root_path == "response.body.items.item"
    assert report.rows_written == 2
    assert read_csv(dst) == [["stationName", "pm10Value"], ["정왕동", "31"], ["시화산단", "-"]]


def test_json_data_member_and_ckan_style(tmp_path):
    src = write_json(tmp_path / "d.json", {"meta": {"count": 2}, "data": [{"a": 1}, {"b": 2}]})
    report = json_to_csv(src, tmp_path / "out.csv")
    assert (report.root_path, report.columns) == ("data", ["a", "b"])
    assert read_csv(tmp_path / "out.csv") == [["a", "b"], ["1", ""], ["", "2"]]

    # CKAN datastore_search: "fields" (an array of objects) comes first, the records are longer.
    ckan = write_json(
        tmp_path / "ckan.json",
        {
            "success": True,
            "result": {
                "fields": [{"id": "동", "type": "text"}, {"id": "인구", "type": "int"}],
                "records": [{"동": "정왕동", "인구": 1}, {"동": "배곧동", "인구": 2}, {"동": "대야동", "인구": 3}],
            },
        },
    )
    report = json_to_csv(ckan, tmp_path / "out.csv")
    assert (report.root_path, report.rows_written, report.columns) == ("result.records", 3, ["동", "인구"])


def test_json_bom_and_cp949(tmp_path):
    records = [{"동": "정왕동", "인구": 1}]
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(records, ensure_ascii=False).encode())
    assert json_to_csv(bom, tmp_path / "out.csv").encoding == "utf-8-sig"
    assert read_csv(tmp_path / "out.csv") == [["동", "인구"], ["정왕동", "1"]]

    cp949 = tmp_path / "cp949.json"
    cp949.write_bytes(json.dumps(records + [{"동": "똠햏동"}], ensure_ascii=False).encode("cp949"))
    assert json_to_csv(cp949, tmp_path / "out.csv").encoding == "cp949"
    assert read_csv(tmp_path / "out.csv") == [["동", "인구"], ["정왕동", "1"], ["똠햏동", ""]]

    binary = tmp_path / "bin.json"
    binary.write_bytes(b'[{"a": "\xff\xfe\xfa\xff"}]')
    raises("json_encoding", json_to_csv, binary, tmp_path / "out.csv")


def test_json_invalid_reports_line_and_column(tmp_path):
    src = tmp_path / "bad.json"
    src.write_text('[\n  {"동": "정왕동"},\n  {"동": "배곧동",, "인구": 3}\n]', encoding="utf-8")
    error = raises("json_invalid", json_to_csv, src, tmp_path / "out.csv")
    assert "line 3, column 15" in english(error.message)  # the second comma
    assert error.detail  # yajl's own description, for the technical log


def test_json_invalid_far_into_a_big_file(tmp_path):
    lines = ["["] + [f'{{"n": {i}, "동": "정왕동"}},' for i in range(20_000)] + ['{"n": 20000, "동": 정왕동}', "]"]
    src = tmp_path / "big.json"
    src.write_text("\n".join(lines), encoding="utf-8")
    assert src.stat().st_size > 400_000  # several of ijson's 64 KB buffers
    error = raises("json_invalid", json_to_csv, src, tmp_path / "out.csv")
    assert "line 20002, column 19" in english(error.message)  # the unquoted 정


def test_json_truncated_and_not_json(tmp_path):
    src = tmp_path / "cut.json"
    src.write_text('[{"a": 1},\n{"a": 2', encoding="utf-8")
    error = raises("json_invalid", json_to_csv, src, tmp_path / "out.csv")
    assert "line 2" in english(error.message)
    csv_file = tmp_path / "table.json"
    csv_file.write_text("동,인구\n정왕동,1\n", encoding="utf-8")
    assert "line 1, column 1" in english(raises("json_invalid", json_to_csv, csv_file, tmp_path / "out.csv").message)


@pytest.mark.parametrize("value", [{"a": 1, "b": {"c": 2}}, [1, 2, 3], [], [[1, 2], [3, 4]], "text", 42])
def test_json_without_records(tmp_path, value):
    src = write_json(tmp_path / "x.json", value)
    raises("json_no_records", json_to_csv, src, tmp_path / "out.csv")


def test_json_too_many_columns(tmp_path):
    src = write_json(tmp_path / "wide.json", [{f"k{i}": i for i in range(30)}])
    assert len(json_to_csv(src, tmp_path / "out.csv").columns) == 30
    raises("json_too_many_columns", json_to_csv, src, tmp_path / "out.csv", max_columns=29)


# --- GeoJSON ----------------------------------------------------------------------------------

CITY_HALL_5179 = (953898.5, 1952035.9)  # Seoul City Hall in EPSG:5179 (UTM-K)
# pyproj 3.7.2 gives (126.97797, 37.56653): Seoul City Hall is at 37.5665 N. (The reference note's
# "37.568" is 1.5e-3 off, so the latitude is compared with the exact transform.)
CITY_HALL_WGS84 = (126.97797, 37.56653)


def feature(geometry, properties=None, **extra):
    return {"type": "Feature", "properties": properties, "geometry": geometry, **extra}


def collection(features, crs=None, crs_last=False):
    doc = {"type": "FeatureCollection"}
    crs_member = {"crs": {"type": "name", "properties": {"name": crs}}} if crs else {}
    if not crs_last:
        doc.update(crs_member)
    doc["features"] = features
    if crs_last:
        doc.update(crs_member)
    return doc


def test_geojson_epsg5179_point_is_seoul_city_hall(tmp_path):
    src = write_json(
        tmp_path / "cityhall.geojson",
        collection(
            [feature({"type": "Point", "coordinates": list(CITY_HALL_5179)}, {"이름": "서울시청", "층수": 13})],
            crs="urn:ogc:def:crs:EPSG::5179",
        ),
    )
    dst = tmp_path / "out.csv"
    report = geojson_to_csv(src, dst)
    assert report.crs == "EPSG:5179"
    assert report.features == 1
    assert report.geometry_types == {"Point": 1}
    assert report.source_bbox == [953898.5, 1952035.9, 953898.5, 1952035.9]
    lon0, lat0, lon1, lat1 = report.bbox_wgs84
    assert lon0 == pytest.approx(126.978, abs=1e-3) and lon1 == pytest.approx(126.978, abs=1e-3)
    assert lat0 == pytest.approx(37.5665, abs=1e-3) and lat1 == pytest.approx(37.5665, abs=1e-3)
    assert [lon0, lat0] == pytest.approx(list(CITY_HALL_WGS84), abs=1e-5)
    assert report.outside_korea is False
    rows = read_csv(dst)
    assert rows[0] == ["이름", "층수", "geometry_type", "longitude", "latitude"]
    assert rows[1][:3] == ["서울시청", "13", "Point"]
    assert float(rows[1][3]) == pytest.approx(126.978, abs=1e-3)
    assert float(rows[1][4]) == pytest.approx(37.5665, abs=1e-3)
    json.dumps(dataclasses.asdict(report))


@pytest.mark.parametrize("epsg", [5186, 5174, 2097, 3857, 5179])
def test_geojson_korean_and_web_mercator_crs(tmp_path, epsg):
    from pyproj import Transformer

    to_src = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    siheung = (126.8031, 37.3800)  # 시흥시청
    x, y = to_src.transform(*siheung)
    polygon = [
        [
            to_src.transform(lon, lat)
            for lon, lat in [(126.70, 37.30), (126.90, 37.30), (126.90, 37.45), (126.70, 37.45), (126.70, 37.30)]
        ]
    ]
    src = write_json(
        tmp_path / f"{epsg}.geojson",
        collection(
            [
                feature({"type": "Point", "coordinates": [x, y]}, {"n": 1}),
                feature({"type": "Polygon", "coordinates": polygon}, {"n": 2}),
            ],
            crs=f"EPSG:{epsg}" if epsg != 5179 else "urn:ogc:def:crs:EPSG::5179",
        ),
    )
    dst = tmp_path / "out.csv"
    report = geojson_to_csv(src, dst)
    assert report.crs == f"EPSG:{epsg}"
    assert report.geometry_types == {"Point": 1, "Polygon": 1}
    assert report.bbox_wgs84 == pytest.approx([126.70, 37.30, 126.90, 37.45], abs=2e-3)
    rows = read_csv(dst)
    assert rows[0] == ["n", "geometry_type", "longitude", "latitude"]
    assert [float(v) for v in rows[1][2:]] == pytest.approx(list(siheung), abs=1e-6)
    assert rows[2] == ["2", "Polygon", "", ""]


def test_geojson_wgs84_mixed_features(tmp_path):
    src = write_json(
        tmp_path / "wgs.geojson",
        collection(
            [
                feature(
                    {"type": "Point", "coordinates": [126.8031, 37.38]}, {"이름": "시청", "longitude": "x"}, id="a1"
                ),
                feature({"type": "LineString", "coordinates": [[126.70, 37.33], [126.75, 37.40]]}, {"이름": "도로"}),
                feature(None, {"이름": "위치 없음", "태그": ["a", "b"]}),
                # one point: shapely refuses it, the file is not (a short polygon ring is: see below)
                feature({"type": "LineString", "coordinates": [[126.9, 37.3]]}, {"이름": "깨진 선"}),
            ]
        ),
    )
    dst = tmp_path / "out.csv"
    report = geojson_to_csv(src, dst)
    layer = as_json(report).pop("map_layer")
    # Lines: the map draws the shapes (WGS84, rounded); the broken line is left out, counted all the same.
    assert layer == {
        "kind": "features",
        "total": 3,
        "shown": 2,
        "capped": False,
        "bbox": [126.7, 37.33, 126.8031, 37.4],
        "features": [
            {"type": "Point", "coordinates": [126.8031, 37.38]},
            {"type": "LineString", "coordinates": [[126.7, 37.33], [126.75, 37.4]]},
        ],
    }
    assert {k: v for k, v in as_json(report).items() if k != "map_layer"} == {
        "features": 4,
        "geometry_types": {"Point": 1, "LineString": 2},
        "bbox_wgs84": [126.7, 37.33, 126.8031, 37.4],
        "crs": "EPSG:4326",
        "columns": ["이름", "longitude", "태그", "id", "geometry_type", "longitude_2", "latitude"],
        "null_geometries": 1,
        "invalid_geometries": 1,
        "outside_korea": False,
        "encoding": "utf-8",
        "source_bbox": [126.7, 37.33, 126.8031, 37.4],
    }
    assert read_csv(dst)[1:] == [
        ["시청", "x", "", "a1", "Point", "126.8031", "37.38"],
        ["도로", "", "", "", "LineString", "", ""],
        ["위치 없음", "", '["a", "b"]', "", "", "", ""],
        ["깨진 선", "", "", "", "LineString", "", ""],
    ]


def test_geojson_crs_after_features_and_crs84(tmp_path):
    late = write_json(
        tmp_path / "late.geojson",
        collection([feature({"type": "Point", "coordinates": list(CITY_HALL_5179)})], crs="EPSG:5179", crs_last=True),
    )
    assert geojson_to_csv(late, tmp_path / "out.csv").crs == "EPSG:5179"
    crs84 = write_json(
        tmp_path / "crs84.geojson",
        collection([feature({"type": "Point", "coordinates": [126.978, 37.568]})], crs="urn:ogc:def:crs:OGC:1.3:CRS84"),
    )
    report = geojson_to_csv(crs84, tmp_path / "out.csv")
    assert (report.crs, report.bbox_wgs84) == ("EPSG:4326", [126.978, 37.568, 126.978, 37.568])


def test_geojson_outside_korea_is_a_note(tmp_path):
    src = write_json(tmp_path / "paris.geojson", collection([feature({"type": "Point", "coordinates": [2.35, 48.85]})]))
    report = geojson_to_csv(src, tmp_path / "out.csv")
    assert report.outside_korea is True and report.bbox_wgs84 == [2.35, 48.85, 2.35, 48.85]


def test_geojson_projected_coordinates_without_crs(tmp_path):
    src = write_json(
        tmp_path / "nocrs.geojson", collection([feature({"type": "Point", "coordinates": list(CITY_HALL_5179)})])
    )
    error = raises("geojson_crs", geojson_to_csv, src, tmp_path / "out.csv")
    assert "coordinate system looks wrong" in english(error.message)


def test_geojson_swapped_lat_lon(tmp_path):
    src = write_json(
        tmp_path / "swap.geojson", collection([feature({"type": "Point", "coordinates": [37.568, 126.978]})])
    )
    raises("geojson_crs", geojson_to_csv, src, tmp_path / "out.csv")


def test_geojson_unknown_crs(tmp_path):
    src = write_json(
        tmp_path / "x.geojson",
        collection([feature({"type": "Point", "coordinates": [1, 2]})], crs="urn:ogc:def:crs:EPSG::999999"),
    )
    error = raises("geojson_crs", geojson_to_csv, src, tmp_path / "out.csv")
    assert "EPSG::999999" in english(error.message)


def test_geojson_invalid(tmp_path):
    broken = tmp_path / "broken.geojson"
    broken.write_text(
        '{"type": "FeatureCollection", "features": [\n{"type": "Feature", "geometry": {"type": "Point",'
        ' "coordinates": [1, 2]}, "properties": {}}\n{"type": "Feature"}]}',
        encoding="utf-8",
    )
    error = raises("geojson_invalid", geojson_to_csv, broken, tmp_path / "out.csv")
    assert "line 3, column 1" in english(error.message)

    for name, value in [
        ("array", [feature(None)]),
        ("feature", feature({"type": "Point", "coordinates": [1, 2]})),
        ("nofeatures", {"type": "FeatureCollection"}),
        ("geometry", {"type": "Point", "coordinates": [1, 2]}),
    ]:
        raises("geojson_invalid", geojson_to_csv, write_json(tmp_path / f"{name}.geojson", value), tmp_path / "out.csv")


def test_geojson_empty_collection(tmp_path):
    src = write_json(tmp_path / "empty.geojson", collection([]))
    report = geojson_to_csv(src, tmp_path / "out.csv")
    assert (report.features, report.bbox_wgs84, report.outside_korea) == (0, None, False)
    assert read_csv(tmp_path / "out.csv") == [["geometry_type"]]


SQUARE = [[126.70, 37.30], [126.71, 37.30], [126.71, 37.31], [126.70, 37.31], [126.70, 37.30]]


@pytest.mark.parametrize(
    "geometry, problem",
    [
        ({"type": "Polygon", "coordinates": [SQUARE[:-1]]}, "not closed"),
        ({"type": "Polygon", "coordinates": [SQUARE, SQUARE[:3]]}, "fewer than 4"),  # a hole of 3 positions
        ({"type": "MultiPolygon", "coordinates": [[SQUARE], [SQUARE[:-1]]]}, "not closed"),
        ({"type": "MultiPolygon", "coordinates": [[[SQUARE[0], SQUARE[1], SQUARE[0]]]]}, "fewer than 4"),
        (
            {"type": "GeometryCollection", "geometries": [{"type": "Polygon", "coordinates": [SQUARE[:-1]]}]},
            "not closed",
        ),
    ],
)
def test_geojson_polygon_rings_must_be_closed_with_four_positions(tmp_path, geometry, problem):
    """shapely closes an open ring silently: the file passed, and a buyer's GIS refused it."""
    good = feature({"type": "Polygon", "coordinates": [SQUARE]}, {"이름": "정왕동"})
    src = write_json(tmp_path / "rings.geojson", collection([good, good, feature(geometry, {"이름": "배곧동"})]))
    error = raises("geojson_ring", geojson_to_csv, src, tmp_path / "out.csv")
    assert "Feature 3 (counting from 1) has a polygon ring" in english(error.message)
    assert problem in english(error.message)
    with translation.override("ko"):
        assert "3번째" in str(error.message)
    assert error.detail.startswith("features[2]: ring")


def test_geojson_closed_polygons_pass(tmp_path):
    src = write_json(
        tmp_path / "ok.geojson",
        collection([feature({"type": "MultiPolygon", "coordinates": [[SQUARE, SQUARE[::-1]]]}, {"이름": "정왕동"})]),
    )
    assert geojson_to_csv(src, tmp_path / "out.csv").geometry_types == {"MultiPolygon": 1}
