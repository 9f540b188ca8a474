"""The OpenAPI 3.1 document of each table (…/<table>/openapi.json): valid against the OpenAPI 3.1 JSON Schema,
with every column, its type, unit and descriptions (the data dictionary), only the filters that fit each type,
examples from the sample, the three answers and the API-key security with the data scope."""

import pytest
from django.urls import reverse
from drf_spectacular.validation import validate_schema

from catalog.querystore.services import query_stores_build
from tests.api.data_world import fresh_quotas, publish_sensors  # noqa: F401 (a fixture)
from tests.catalog.test_dataset_page import plain_csv, publish

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_quotas")]


@pytest.fixture
def sensors(official, admin_user, reference_data):
    return publish_sensors(official, admin_user)


def document(api, version, table, number=None):
    response = api.get(reverse("api-data-openapi", args=(version.dataset.slug, number or "1", table)))
    assert response.status_code == 200
    return response.json()


def test_each_tables_document_is_valid_openapi_31(api, sensors):
    for table in ("sensors", "zones"):
        doc = document(api, sensors, table)
        assert doc["openapi"].startswith("3.1")
        validate_schema(doc)


def test_the_document_lists_the_columns_units_and_descriptions(api, sensors):
    doc = document(api, sensors, "sensors", number="latest")
    row = doc["components"]["schemas"]["Row"]["properties"]
    assert list(row) == ["ts", "station", "pm10", "note", "lat", "lon"]
    assert row["pm10"]["type"] == ["number", "null"] and row["pm10"]["x-unit"] == "㎍/㎥"
    assert "미세먼지 1시간 평균" in row["pm10"]["description"] and "PM10, hourly mean" in row["pm10"]["description"]
    assert row["station"]["x-description-en"] == "Station code"
    assert row["ts"]["format"] == "date-time"
    assert row["station"]["examples"] == ["ST00"]  # the first sample row
    path = f"/api/v1/data/{sensors.dataset.slug}/latest/sensors"
    assert set(doc["paths"]) == {path, f"{path}/datagokr"}
    datagokr = doc["paths"][f"{path}/datagokr"]["get"]
    assert {"serviceKey", "pageNo", "numOfRows", "type"} <= {p["name"] for p in datagokr["parameters"]}
    operation = doc["paths"][path]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"pm10__gte", "pm10__lt", "pm10__in", "pm10__isnull", "station__contains", "bbox", "sample"} <= names
    assert "station__gte" not in names and "pm10__contains" not in names  # only the operators of the type
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv", "application/geo+json"}
    assert {"400", "403", "404", "429"} <= set(operation["responses"])
    assert {"dataKey": ["data"]} in operation["security"] and {} in operation["security"]
    assert doc["components"]["securitySchemes"]["dataKey"]["type"] == "apiKey"


def test_a_table_without_coordinates_has_no_bbox_or_geojson(api, official, admin_user, reference_data):
    version = publish(official, admin_user, files=[("지점.csv", plain_csv())])
    query_stores_build(version_id=version.pk)
    response = api.get(reverse("api-data-dataset", args=(version.dataset.slug,)))
    (table,) = response.json()["versions"][0]["tables"]
    doc = api.get(table["openapi_url"]).json()
    validate_schema(doc)
    operation = next(item["get"] for path, item in doc["paths"].items() if not path.endswith("/datagokr"))
    assert "bbox" not in {p["name"] for p in operation["parameters"]}
    assert "application/geo+json" not in operation["responses"]["200"]["content"]
    response = api.get(table["url"], {"format": "geojson", "sample": "1"})
    assert response.status_code == 400 and "geojson" in response.json()["error"]["message_ko"]
