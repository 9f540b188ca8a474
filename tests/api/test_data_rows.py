"""The table API over HTTP (/api/v1/data/<slug>/<version>/<table>): filters, sort, cursor paging and the three
formats against a direct computation over the uploaded CSV; formula cells neutralised in CSV; GeoJSON shapes;
who reads the full data and who only the sample (anonymous, another organization, a key without the data scope,
an entitlement that ended); the rate-limit headers."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from catalog import services as catalog_services
from catalog.querystore.services import query_stores_build
from tests.api.data_world import SAMPLE_ROWS, fresh_quotas, publish_sensors, sensor_rows  # noqa: F401 (a fixture)
from tests.conftest import make_org, make_user
from tests.transactions.conftest import offer_of, place_order
from transactions.models import Entitlement

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_quotas")]
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@pytest.fixture
def sensors(official, admin_user, reference_data):
    return publish_sensors(official, admin_user)


@pytest.fixture
def entitled(sensors, buyer, make_key):
    """The buyer company took the free offer (an entitlement to version 1); its key has read + data."""
    place_order(buyer, offer_of(sensors.dataset, "free"), method="free")
    assert Entitlement.objects.filter(organization=buyer.active_organization, dataset=sensors.dataset).exists()
    return make_key(buyer, scopes=("read", "data"))


def rows_url(version, table="sensors", number=None):
    return reverse("api-data-rows", args=(version.dataset.slug, number or str(version.number), table))


def get_all(api, url, params):
    """Every row through the `next` links; also the pages' sizes."""
    rows, sizes = [], []
    response = api.get(url, params)
    while True:
        assert response.status_code == 200, response.content[:500]
        body = response.json()
        assert body["count"] == len(body["rows"])
        rows += body["rows"]
        sizes.append(body["count"])
        if not body["next"]:
            return rows, sizes
        response = api.get(body["next"])


def as_api_row(row: dict, columns=("ts", "station", "pm10", "note", "lat", "lon")) -> dict:
    out = {c: row[c] for c in columns}
    if "ts" in out:
        out["ts"] = row["ts"].replace(" ", "T")
    return out


def test_the_dataset_lists_its_tables_with_their_urls(api, sensors):
    response = api.get(reverse("api-data-dataset", args=(sensors.dataset.slug,)))
    assert response.status_code == 200
    body = response.json()
    (version,) = body["versions"]
    assert version["version"] == "1" and version["latest"] and version["full_access"] is False
    assert version["why_not"]
    tables = {t["name"]: t for t in version["tables"]}
    assert set(tables) == {"sensors", "zones"}
    sensors_table = tables["sensors"]
    assert sensors_table["row_count"] == 60
    assert sensors_table["url"].endswith(f"/api/v1/data/{sensors.dataset.slug}/1/sensors")
    assert sensors_table["sample_url"].endswith("/sensors?sample=1")
    assert sensors_table["openapi_url"].endswith("/sensors/openapi.json")
    assert [c["name"] for c in sensors_table["columns"]] == ["ts", "station", "pm10", "note", "lat", "lon"]
    assert api.get(sensors_table["openapi_url"]).status_code == 200


def test_filters_sort_and_paging_match_a_direct_computation(api, sensors, entitled):
    api.with_key(entitled)
    data = sensor_rows()
    url = rows_url(sensors)
    # station = ST01 and pm10 >= 20, newest reading first, 4 rows a page
    expected = sorted(
        (r for r in data if r["station"] == "ST01" and r["pm10"] is not None and r["pm10"] >= 20),
        key=lambda r: r["ts"],
        reverse=True,
    )
    rows, sizes = get_all(api, url, {"station": "ST01", "pm10__gte": "20", "order": "-ts", "limit": "4"})
    assert rows == [as_api_row(r) for r in expected]
    assert sizes[:-1] == [4] * (len(sizes) - 1) and 0 < sizes[-1] <= 4
    # in, lt, a sort on a number with ties broken by source order, and select
    expected = sorted(
        (r for r in data if r["station"] in ("ST00", "ST02") and r["pm10"] is not None and r["pm10"] < 50),
        key=lambda r: (-r["pm10"], r["_row"]),
    )
    rows, _sizes = get_all(
        api,
        url,
        {"station__in": "ST00,ST02", "pm10__lt": "50", "order": "-pm10", "select": "station,pm10", "limit": "3"},
    )
    assert rows == [{"station": r["station"], "pm10": r["pm10"]} for r in expected]
    # empty readings, text contains (case-insensitive), not equal
    rows, _sizes = get_all(api, url, {"pm10__isnull": "true", "select": "ts"})
    assert [r["ts"] for r in rows] == [r["ts"].replace(" ", "T") for r in data if r["pm10"] is None]
    rows, _sizes = get_all(api, url, {"note__contains": "OK1", "station__ne": "ST00", "select": "note", "limit": "100"})
    assert [r["note"] for r in rows] == [r["note"] for r in data if "ok1" in r["note"] and r["station"] != "ST00"]
    # the whole table in source order, one page per 25 rows
    rows, sizes = get_all(api, url, {"limit": "25"})
    assert rows == [as_api_row(r) for r in data] and sizes == [25, 25, 10]


def test_bad_parameters_are_400_naming_them_in_both_languages(api, sensors, entitled):
    api.with_key(entitled)
    for params, name in (
        ({"nosuch": "1"}, "nosuch"),
        ({"pm10__gte": "many"}, "pm10__gte"),
        ({"station__near": "x"}, "station__near"),
        ({"order": "-nosuch"}, "nosuch"),
        ({"limit": "0"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"format": "xlsx"}, "xlsx"),
    ):
        response = api.get(rows_url(sensors), params)
        assert response.status_code == 400, (params, response.content)
        error = response.json()["error"]
        assert name in error["message_ko"] and name in error["message_en"]
        assert error["message_ko"] != error["message_en"]


def test_csv_is_utf8_with_formula_cells_neutralised(api, sensors, entitled):
    api.with_key(entitled)
    response = api.get(rows_url(sensors), {"format": "csv", "select": "station,note,pm10", "limit": "10"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["station", "note", "pm10"]
    notes = [row[1] for row in table[1:]]
    assert notes[2] == '\'=HYPERLINK("http://evil.example")'
    assert notes[3] == "-3.2"  # a plain number stays a number
    assert notes[4] == "'+82 10-1234" and notes[5] == "'@SUM(A1)"
    assert [row[2] for row in table[1:]][5] == ""  # an empty reading is an empty cell
    assert len(table) == 11 and response["X-Row-Count"] == "10"
    assert "cursor=" in response["Link"] and 'rel="next"' in response["Link"]
    for name in RATE_HEADERS:
        assert response[name]


def test_geojson_of_a_latlon_table_is_points_and_bbox_filters(api, sensors, entitled):
    api.with_key(entitled)
    bbox = (126.745, 37.355, 126.775, 37.385)
    response = api.get(rows_url(sensors), {"format": "geojson", "bbox": ",".join(map(str, bbox)), "limit": "100"})
    assert response.status_code == 200 and response["Content-Type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection" and body["next"] is None
    expected = [r for r in sensor_rows() if bbox[0] <= r["lon"] <= bbox[2] and bbox[1] <= r["lat"] <= bbox[3]]
    assert body["count"] == len(body["features"]) == len(expected) > 0
    for feature, row in zip(body["features"], expected, strict=True):
        assert feature["type"] == "Feature"
        assert feature["geometry"] == {"type": "Point", "coordinates": [row["lon"], row["lat"]]}
        assert feature["properties"]["station"] == row["station"]


def test_geojson_of_a_geojson_table_carries_its_geometry(api, sensors, entitled):
    api.with_key(entitled)
    response = api.get(rows_url(sensors, "zones"), {"format": "geojson"})
    assert response.status_code == 200
    features = response.json()["features"]
    assert [f["properties"]["zone"] for f in features] == ["Z0", "Z1", "Z2"]
    assert all(f["geometry"]["type"] == "Polygon" for f in features)
    assert "geometry" not in features[0]["properties"]
    assert features[1]["geometry"]["coordinates"][0][0] == pytest.approx([126.75, 37.35])
    # a bbox touching only the last zone
    response = api.get(rows_url(sensors, "zones"), {"format": "geojson", "bbox": "126.79,37.39,126.83,37.43"})
    assert [f["properties"]["zone"] for f in response.json()["features"]] == ["Z2"]
    # JSON rows carry the geometry as an object
    rows = api.get(rows_url(sensors, "zones")).json()["rows"]
    assert rows[0]["geometry"]["type"] == "Polygon"


def test_the_sample_is_for_anyone_and_the_full_data_is_refused_with_the_reason(api, sensors):
    url = rows_url(sensors, number="latest")
    response = api.get(url)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "permission_denied"
    assert "sample=1" in error["message_en"] and "sample=1" in error["message_ko"]
    assert error["message_ko"] != error["message_en"]
    response = api.get(url, {"sample": "1", "limit": "100"})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == SAMPLE_ROWS and body["next"] is None
    assert body["rows"] == [as_api_row(r) for r in sensor_rows()[:SAMPLE_ROWS]]
    for name in RATE_HEADERS:
        assert response[name]


def test_another_organization_and_a_key_without_the_data_scope_read_only_the_sample(
    api, sensors, entitled, buyer, make_key
):
    other = make_user("other@company2.test")
    make_org(other, name_ko="(주)다른회사", name_en="Other Co", kind="consumer", brn="2208139938")
    other_key = make_key(other, scopes=("read", "data"))
    url = rows_url(sensors)
    assert api.with_key(other_key).get(url).status_code == 403
    assert api.with_key(other_key).get(url, {"sample": "true"}).status_code == 200
    # the buyer's own key without the data scope: refused, naming the scope
    read_only = make_key(buyer, scopes=("read",))
    response = api.with_key(read_only).get(url)
    assert response.status_code == 403 and "data" in response.json()["error"]["message_en"]
    # the buyer's key with the scope reads everything; a version or table that does not exist is 404
    assert api.with_key(entitled).get(url, {"limit": "1"}).status_code == 200
    assert api.with_key(entitled).get(rows_url(sensors, number="2")).status_code == 404
    assert api.with_key(entitled).get(rows_url(sensors, table="nosuch")).status_code == 404


def test_a_member_of_the_publisher_reads_the_full_data_with_the_session(client, sensors, official):
    client.force_login(official)
    response = client.get(rows_url(sensors), {"limit": "1"})
    assert response.status_code == 200 and response.json()["count"] == 1


def test_an_entitlement_that_ends_is_refused_at_once(api, sensors, entitled, buyer):
    url = rows_url(sensors)
    assert api.with_key(entitled).get(url, {"limit": "1"}).status_code == 200
    entitlement = Entitlement.objects.get(organization=buyer.active_organization, dataset=sensors.dataset)
    # the entitlement is refunded (revoked) a second ago
    Entitlement.objects.filter(pk=entitlement.pk).update(revoked_at=timezone.now() - timedelta(seconds=1))
    response = api.with_key(entitled).get(url, {"limit": "1"})
    assert response.status_code == 403
    assert response.json()["error"]["message_ko"]
    assert api.with_key(entitled).get(url, {"limit": "1", "sample": "1"}).status_code == 200


def test_a_buyer_who_is_not_a_member_any_more_has_no_access(api, sensors, entitled, buyer):
    Membership.objects.filter(user=buyer).delete()
    assert api.with_key(entitled).get(rows_url(sensors)).status_code == 401


def test_a_used_up_quota_is_429_with_retry_after_and_refusals_are_not_counted(api, sensors, settings):
    settings.DATA_API_DEFAULT_DAILY_QUOTA = 3
    url = rows_url(sensors)
    assert api.get(url).status_code == 403  # the full data refused: not counted
    remaining = []
    for _ in range(3):
        response = api.get(url, {"sample": "1", "limit": "1"})
        assert response.status_code == 200
        assert response["X-RateLimit-Limit"] == "3"
        remaining.append(response["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    response = api.get(url, {"sample": "1", "limit": "1"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0 and response["X-RateLimit-Remaining"] == "0"
    error = response.json()["error"]
    assert error["status"] == 429 and error["retry_after"] == int(response["Retry-After"])
    assert error["message_ko"] != error["message_en"]
    sql = api.post(reverse("api-data-sql", args=(sensors.dataset.slug,)), {"sql": "SELECT 1", "sample": True}, "json")
    assert sql.status_code == 429


def test_the_swagger_ui_page_reads_the_tables_document(client, sensors):
    response = client.get(reverse("api-data-docs", args=(sensors.dataset.slug, "1", "sensors")))
    assert response.status_code == 200
    assert f'data-schema-url="/api/v1/data/{sensors.dataset.slug}/1/sensors/openapi.json"' in response.content.decode()
    assert client.get(reverse("api-data-docs", args=(sensors.dataset.slug, "1", "nosuch"))).status_code == 404


def test_the_dataset_page_loads_the_panel_for_the_visitors_situation(client, sensors, entitled, buyer):
    page = client.get(reverse("catalog:dataset", args=(sensors.dataset.slug,))).content.decode()
    panel_url = reverse("api-data-panel", args=(sensors.dataset.slug,))
    assert f'hx-get="{panel_url}"' in page and 'id="data-api"' in page
    html = client.get(panel_url).content.decode()
    assert 'id="data-api"' in html and "sensors?sample=1" in html and 'id="sql-form"' in html
    client.force_login(buyer)
    html = client.get(panel_url).content.decode()
    assert "sensors?sample=1" not in html and "DATA_API_KEY" in html


def test_a_superseded_version_stays_readable_by_its_buyer_and_the_new_one_is_not(
    api, sensors, entitled, official, admin_user
):
    second = catalog_services.version_start_new(actor=official, dataset=sensors.dataset, change_note="2월 자료")
    catalog_services.version_submit(actor=official, version=second, pii_justification="-")
    catalog_services.version_approve(actor=admin_user, version=second)
    query_stores_build(version_id=second.pk)
    api.with_key(entitled)
    old = api.get(rows_url(sensors, number="1"), {"limit": "5"})
    assert old.status_code == 200 and old.json()["count"] == 5  # the free entitlement was to version 1
    assert api.get(rows_url(sensors, number="latest")).status_code == 403
    assert api.get(rows_url(sensors, number="2"), {"sample": "1"}).status_code == 200
    listed = api.get(reverse("api-data-dataset", args=(sensors.dataset.slug,))).json()["versions"]
    assert [(v["version"], v["state"], v["full_access"]) for v in listed] == [
        ("2", "published", False),
        ("1", "superseded", True),
    ]


def test_a_call_that_cannot_be_counted_is_a_503_in_both_languages_and_the_next_one_works(api, sensors, monkeypatch):
    """Redis (the counter) unreachable: the data API answers 503 with the reason, not a bare 500, and serves nothing
    uncounted; once the counter is back the same call works."""
    import redis

    from transactions.dataapi import metering

    url = rows_url(sensors) + "?sample=1"
    dead = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    monkeypatch.setattr(metering, "_client", dead)
    monkeypatch.setattr(metering._local, "scripts", None, raising=False)
    response = api.get(url)
    assert response.status_code == 503, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "metering_unavailable"
    assert "잠시" in error["message_ko"] or "지금" in error["message_ko"], error
    assert "counted" in error["message_en"]
    monkeypatch.setattr(metering, "_client", None)
    monkeypatch.setattr(metering._local, "scripts", None, raising=False)
    assert api.get(url).status_code == 200


def test_a_page_reads_the_store_tables_once(api, sensors, entitled, django_assert_max_num_queries):
    """A page of rows: the key, the dataset, the version, the store's tables (once: the table, its sources and row
    count come from the same rows; they were read three times), the API plan and the entitlement."""
    api.with_key(entitled)
    url = rows_url(sensors)
    assert api.get(url, {"limit": "5"}).status_code == 200
    for params in ({"limit": "5"}, {"limit": "5", "sample": "1"}):
        with django_assert_max_num_queries(6):
            assert api.get(url, params).status_code == 200
    with django_assert_max_num_queries(5):  # latest: the version comes with the dataset
        assert api.get(rows_url(sensors, number="latest"), {"limit": "5"}).status_code == 200


def test_the_table_list_costs_the_same_for_one_version_or_three(
    api, sensors, entitled, official, admin_user, django_assert_num_queries
):
    """The dataset's table list read each version's access, store status, table count and tables one by one (five
    queries a version: a live dataset publishes a snapshot version a day); now the same queries for any number."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api.with_key(entitled)
    url = reverse("api-data-dataset", args=(sensors.dataset.slug,))
    api.get(url)  # the key's first use is recorded (a write of its own)
    with CaptureQueriesContext(connection) as one:
        first = api.get(url)
    assert first.status_code == 200 and len(first.json()["versions"]) == 1
    for note in ("2월 자료", "3월 자료"):
        version = catalog_services.version_start_new(actor=official, dataset=sensors.dataset, change_note=note)
        catalog_services.version_submit(actor=official, version=version, pii_justification="-")
        catalog_services.version_approve(actor=admin_user, version=version)
        query_stores_build(version_id=version.pk)
    with django_assert_num_queries(len(one.captured_queries)):
        listed = api.get(url).json()["versions"]
    assert [
        (v["version"], v["state"], v["full_access"], v["store"]["state"], v["store"]["tables"]) for v in listed
    ] == [
        ("3", "published", False, "ready", 2),
        ("2", "superseded", False, "ready", 2),
        ("1", "superseded", True, "ready", 2),
    ]
    assert [t["name"] for t in listed[2]["tables"]] == ["sensors", "zones"]
    assert listed[2]["tables"][0]["variants"] == ["full", "sample"]
