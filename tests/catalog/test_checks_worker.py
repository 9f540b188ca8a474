"""Checks run in a real Celery worker: upload → task → report stored → version follows."""

import io
import time
import zipfile

from catalog import services
from catalog.models import DataFile, DatasetVersion

S = DatasetVersion.State

CSV_ROWS = ["측정소명,측정일시,미세먼지,연락처"] + [
    f"정왕동,2024-01-{day:02d} 10:00,{20 + day},{'010-1234-5678' if day == 3 else ''}" for day in range(1, 29)
]


def _upload(actor, version, name, data: bytes):
    upload = services.upload_create(actor=actor, version=version, filename=name, length=len(data))
    return services.upload_append(actor=actor, upload=upload, offset=0, stream=io.BytesIO(data))


def _wait_checked(version, count=1, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = list(DataFile.objects.filter(version=version))
        if len(files) >= count and all(f.is_checked for f in files):
            return files
        time.sleep(0.1)
    raise AssertionError(f"checks did not finish: {[(f.original_name, f.check_state, f.check_stage) for f in files]}")


def test_cp949_csv_is_checked_by_the_worker(celery_worker, official, draft):
    data = ("\r\n".join(CSV_ROWS) + "\r\n").encode("cp949")
    _upload(official, draft, "대기질_2024.csv", data)
    (datafile,) = _wait_checked(draft)
    assert datafile.encoding == "cp949"
    assert datafile.row_count == 28 and datafile.column_count == 4
    fields = {f["name"]: f["type"] for f in datafile.table_schema["fields"]}
    assert fields["미세먼지"] == "integer" and fields["측정일시"] == "datetime"
    assert len(datafile.preview["rows"]) == 20
    assert [(f["kind"], f["column"], f["count"]) for f in datafile.pii_findings] == [("mobile_phone", "연락처", 1)]
    assert datafile.check_state == DataFile.Check.WARNING  # personal data: submission will need a justification
    phones = [row[3] for row in datafile.preview["rows"] if row[3]]
    assert phones == ["010-****-5678"]  # the preview never shows the number itself
    assert next(c for c in datafile.profile if c["name"] == "연락처")["top_values"] == []
    draft.refresh_from_db()
    assert draft.state == S.READY


def test_resident_numbers_block_the_file(celery_worker, official, draft):
    data = "이름,주민등록번호\n홍길동,971013-9019902\n김철수,900101-1234568\n".encode()
    _upload(official, draft, "명단.csv", data)
    (datafile,) = _wait_checked(draft)
    assert datafile.check_state == DataFile.Check.BLOCKED
    assert any(f["kind"] == "rrn" and f["blocking"] for f in datafile.pii_findings)
    draft.refresh_from_db()
    assert draft.state == S.DRAFT  # not submittable


def test_zip_members_become_files_of_their_own(celery_worker, official, draft):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.csv", "x,y\n1,2\n3,4\n")
        zf.writestr("b.tsv", "x\ty\n5\t6\n")
    _upload(official, draft, "묶음.zip", buffer.getvalue())
    files = _wait_checked(draft, count=3)
    members = sorted((f.original_name, f.check_state, f.row_count) for f in files if f.parent_id)
    assert members == [("a.csv", "passed", 2), ("b.tsv", "passed", 1)]
    draft.refresh_from_db()
    assert draft.state == S.READY


def test_hostile_zip_fails_with_a_reason(celery_worker, official, draft):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("../../etc/passwd.csv", "a\n1\n")
    _upload(official, draft, "bad.zip", buffer.getvalue())
    (datafile,) = _wait_checked(draft)
    assert datafile.check_state == DataFile.Check.FAILED
    assert [(m["level"], m["code"]) for m in datafile.check_messages] == [("error", "zip_path_traversal")]
    assert not DataFile.objects.filter(parent=datafile).exists()


def test_geojson_coverage_fills_the_bounding_box(celery_worker, official, draft):
    import json

    features = [
        {"type": "Feature", "properties": {"시설명": name}, "geometry": {"type": "Point", "coordinates": [lon, lat]}}
        for name, lon, lat in [("배곧 공원", 126.72, 37.37), ("시흥시청", 126.80, 37.38), ("물왕저수지", 126.83, 37.40)]
    ]
    data = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()
    _upload(official, draft, "시설.geojson", data)
    (datafile,) = _wait_checked(draft)
    assert datafile.check_state == DataFile.Check.PASSED, datafile.check_messages
    assert datafile.row_count == 3
    assert datafile.geo["bbox_wgs84"] == [126.72, 37.37, 126.83, 37.40]
    draft.refresh_from_db()
    assert draft.spatial_bbox == [126.72, 37.37, 126.83, 37.40]


def test_a_redelivered_check_runs_once(official, draft):
    """A second claim of a running file fails; a second report of a finished file is ignored."""
    data = b"x,y\n1,2\n"
    _upload(official, draft, "a.csv", data)
    datafile = DataFile.objects.get(version=draft)
    assert services.datafile_check_started(datafile_id=datafile.pk) is not None
    assert services.datafile_check_started(datafile_id=datafile.pk) is None
    report = {"state": "passed", "messages": [], "row_count": 1, "members": []}
    services.datafile_check_finished(datafile_id=datafile.pk, report=report)
    services.datafile_check_finished(datafile_id=datafile.pk, report={**report, "row_count": 99})
    assert DataFile.objects.get(pk=datafile.pk).row_count == 1
