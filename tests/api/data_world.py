"""A published sensor dataset loaded into the query store, for the data API tests (tests/api/test_data_*.py) and
the SQL journey (tests/browser/test_data_sql_journey.py): a CSV of 60 hourly readings of 4 stations with latitude
and longitude, a text column with formula-looking cells and empty readings, the data dictionary of two columns, a
GeoJSON of zones; published through the real services and built into its DuckDB stores by the store's service."""

import csv
import io
import json

import pytest

from catalog import services as catalog_services
from catalog.models import DataFile, Licence, Theme
from catalog.querystore.services import query_stores_build
from tests.catalog.test_dataset_page import run_checks, upload
from transactions.dataapi import metering

HEADER = ["ts", "station", "pm10", "note", "lat", "lon"]
ROWS = 60
SAMPLE_ROWS = 20  # the ingest's preview rows: the published sample


def note_of(i: int) -> str:
    return {2: '=HYPERLINK("http://evil.example")', 3: "-3.2", 4: "+82 10-1234", 5: "@SUM(A1)"}.get(i, f"ok{i}")


def sensor_rows() -> list[dict]:
    rows = []
    for i in range(ROWS):
        rows.append(
            {
                "ts": f"2024-01-{1 + i // 24:02d} {i % 24:02d}:00:00",
                "station": f"ST{i % 4:02d}",
                "pm10": None if i % 11 == 5 else round((i * 37) % 90 + 0.5, 1),
                "note": note_of(i),
                "lat": round(37.34 + (i % 10) * 0.01, 4),
                "lon": round(126.73 + (i % 10) * 0.01, 4),
                "_row": i + 1,
            }
        )
    return rows


def sensor_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for row in sensor_rows():
        writer.writerow(["" if row[h] is None else row[h] for h in HEADER])
    return out.getvalue().encode("utf-8")


def zones_geojson() -> bytes:
    features = []
    for i in range(3):
        x, y = 126.70 + i * 0.05, 37.30 + i * 0.05
        features.append(
            {
                "type": "Feature",
                "properties": {"zone": f"Z{i}", "area_km2": 1.5 + i},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[x, y], [x + 0.02, y], [x + 0.02, y + 0.02], [x, y + 0.02], [x, y]]],
                },
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features}).encode("utf-8")


DICTIONARY = {
    "pm10": {
        "description_ko": "미세먼지 1시간 평균",
        "description_en": "PM10, hourly mean",
        "unit": "㎍/㎥",
        "codes": [],
    },
    "station": {"description_ko": "측정소 코드", "description_en": "Station code", "unit": "", "codes": []},
}


def publish_sensors(official, admin, *, offers=({"kind": "free"},), title_ko="시흥시 센서 측정값", geojson=True):
    """The published version (its stores built) of a new sensor dataset of the official's department."""
    version = catalog_services.dataset_create(
        actor=official,
        organization=official.active_organization,
        title_ko=title_ko,
        title_en="Siheung sensor readings",
        description_ko="측정소의 시간별 측정값입니다.",
        theme=Theme.objects.get(code="environment"),
        tags="미세먼지",
        contact_name="정민준",
        contact_phone="031-310-2114",
        contact_email=official.email,
        update_cadence="daily",
        data_kind="public",
        licence=Licence.objects.get(code="kogl-1"),
    )
    upload(official, version, "sensors.csv", sensor_csv(), checks=run_checks)
    if geojson:
        upload(official, version, "zones.geojson", zones_geojson(), checks=run_checks)
    sensors = DataFile.objects.get(version=version, original_name="sensors.csv")
    catalog_services.datafile_dictionary_update(actor=official, datafile=sensors, entries=DICTIONARY)
    for offer in offers:
        catalog_services.offer_create(actor=official, dataset=version.dataset, **offer)
    version.refresh_from_db()
    catalog_services.version_submit(actor=official, version=version, pii_justification="-")
    catalog_services.version_approve(actor=admin, version=version)
    version.refresh_from_db()
    query_stores_build(version_id=version.pk)
    return version


@pytest.fixture
def fresh_quotas():
    """The data API's quota and usage counters of earlier runs are removed (anonymous calls count per address, and
    ids repeat between test databases)."""
    r = metering.client()

    def clean():
        for key in r.scan_iter("dapi:*", count=1000):
            r.delete(key)

    clean()
    yield
    clean()
