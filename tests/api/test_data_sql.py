"""POST /api/v1/data/<slug>/sql: a read-only SELECT over the dataset's tables, on the sample for anyone and on the
full data for entitled organizations; every escape from the sandbox, a syntax error, a query over the time limit
and another dataset's table are a 400 with the reason in Korean and English; the result is capped."""

from collections import Counter

import pytest
from django.urls import reverse

from core.models import AuditEvent
from tests.api.data_world import SAMPLE_ROWS, fresh_quotas, publish_sensors, sensor_rows  # noqa: F401 (a fixture)
from tests.transactions.conftest import offer_of, place_order

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_quotas")]


@pytest.fixture
def sensors(official, admin_user, reference_data):
    return publish_sensors(official, admin_user)


def sql_url(version):
    return reverse("api-data-sql", args=(version.dataset.slug,))


def run(api, published, sql, **body):
    return api.post(sql_url(published), {"sql": sql, **body}, format="json")


def test_anyone_runs_sql_on_the_sample(api, sensors):
    response = run(
        api, sensors, "SELECT station, count(*) AS n FROM sensors GROUP BY station ORDER BY station", sample=True
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [c["name"] for c in body["columns"]] == ["station", "n"]
    counts = Counter(r["station"] for r in sensor_rows()[:SAMPLE_ROWS])
    assert body["rows"] == [[station, counts[station]] for station in sorted(counts)]
    assert body["row_count"] == len(counts) and body["truncated"] is False
    assert body["elapsed_ms"] >= 0
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert response[name]


def test_the_full_data_needs_an_entitlement(api, sensors, buyer, make_key):
    sql = "SELECT count(*) FROM sensors"
    response = run(api, sensors, sql)
    assert response.status_code == 403
    assert response.json()["error"]["message_ko"] != response.json()["error"]["message_en"]
    place_order(buyer, offer_of(sensors.dataset, "free"), method="free")
    api.with_key(make_key(buyer, scopes=("read", "data")))
    response = run(api, sensors, sql, version=1)
    assert response.status_code == 200 and response.json()["rows"] == [[60]]
    response = run(api, sensors, "SELECT avg(pm10) FROM sensors WHERE station = 'ST03'", version="latest")
    values = [r["pm10"] for r in sensor_rows() if r["station"] == "ST03" and r["pm10"] is not None]
    assert response.json()["rows"][0][0] == pytest.approx(sum(values) / len(values))


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "query_refused"),
        ("SELECT * FROM read_text('/etc/hostname')", "query_refused"),
        ("COPY (SELECT * FROM sensors) TO '/tmp/out.csv'", "query_refused"),
        ("ATTACH '/tmp/x.duckdb' AS x", "query_refused"),
        ("INSTALL httpfs", "query_refused"),
        ("LOAD httpfs", "query_refused"),
        ("PRAGMA database_list", "query_refused"),
        ("SET memory_limit='10GB'", "query_refused"),
        ("CREATE TABLE t AS SELECT 1", "query_refused"),
        ("SELECT 1; SELECT 2", "query_refused"),
        ("SELECT * FROM 'https://example.com/data.csv'", "query_refused"),
        ("SELEC station FROM sensors", "query_error"),
        ("SELECT * FROM nosuch_table", "query_error"),
    ],
)
def test_each_escape_and_error_is_a_400_in_both_languages(api, sensors, sql, code):
    response = run(api, sensors, sql, sample=True)
    assert response.status_code == 400, (sql, response.content)
    error = response.json()["error"]
    assert error["code"] in (code, "query_refused", "query_error"), error
    assert error["message_ko"] and error["message_en"] and error["message_ko"] != error["message_en"]


def test_a_query_over_the_time_limit_is_stopped(api, sensors, settings):
    settings.DATA_SQL_TIMEOUT_SECONDS = 0.5
    sql = "SELECT count(*) FROM range(100000000000) a, range(1000) b WHERE a.range * b.range % 7 = 3"
    response = run(api, sensors, sql, sample=True)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "query_timeout"


def test_another_datasets_tables_are_not_visible(api, sensors, official, admin_user):
    other = publish_sensors(official, admin_user, title_ko="다른 센서 자료", geojson=False)
    # both have a table called sensors: each query sees only its own dataset's, so a join needs a name that is not there
    response = run(api, sensors, f"SELECT * FROM {other.dataset.slug.replace('-', '_')}.sensors", sample=True)
    assert response.status_code == 400


def test_results_are_capped(api, sensors, settings):
    settings.DATA_SQL_MAX_ROWS = 5
    response = run(api, sensors, "SELECT * FROM range(100)", sample=True)
    assert response.status_code == 200
    body = response.json()
    assert body["row_count"] == 5 and body["truncated"] is True and len(body["rows"]) == 5


def test_a_bad_body_is_a_400_naming_the_field(api, sensors):
    response = api.post(sql_url(sensors), {"version": "first"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"sql", "version"}


def test_a_query_is_a_read_not_an_audited_write(api, sensors, buyer, make_key):
    """POST …/sql only reads: each query with a key wrote an `api.write` audit row (the append-only trail grew by
    one row per query of a metered buyer); reads are not audited (core.api.views)."""
    api.with_key(make_key(buyer, scopes=("read", "data")))
    for _ in range(3):
        assert run(api, sensors, "SELECT count(*) FROM sensors", sample=True).status_code == 200
    assert run(api, sensors, "SELECT count(*) FROM sensors").status_code == 403
    assert not AuditEvent.objects.filter(action="api.write").exists()
