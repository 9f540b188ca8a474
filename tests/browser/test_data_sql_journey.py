"""A visitor, not signed in, reads a dataset's data API panel and runs SQL on its sample in Chromium: the table's
endpoint (the sample URL), its OpenAPI document and copyable examples; the SQL editor returns a results table with
the row count and elapsed time, draws a chart of the result (x: the first text column, y: the first numeric one)
and exports the result as CSV; a refused query shows its reason. The same at phone width, without overflow, and
without a console error."""

import base64
from collections import defaultdict
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.api.data_world import SAMPLE_ROWS, fresh_quotas, publish_sensors, sensor_rows  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_quotas")]

PAINTED = """(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                      for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true; return false; }"""
# A transparent pixel for the coverage map's tiles: the test machine is offline, the page must not log errors.
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
SQL = "SELECT station, round(avg(pm10), 2) AS pm10_avg FROM sensors GROUP BY station ORDER BY station"


def expected_averages():
    values = defaultdict(list)
    for row in sensor_rows()[:SAMPLE_ROWS]:
        if row["pm10"] is not None:
            values[row["station"]].append(row["pm10"])
    return {station: round(sum(v) / len(v), 2) for station, v in sorted(values.items())}


def run_query(page, sql):
    page.fill("#sql-text", sql)
    page.click("#sql-run")


def test_a_visitor_runs_sql_on_the_sample_and_sees_a_chart(
    live_server, page, official, admin_user, reference_data, shot, console_errors
):
    version = publish_sensors(official, admin_user)
    tile_host = urlsplit(settings.MAP_TILE_URL).netloc
    page.route(f"**://{tile_host}/**", lambda route: route.fulfill(status=200, body=PIXEL, content_type="image/png"))
    page.goto(f"{live_server.url}/catalog/datasets/{version.dataset.slug}/")
    panel = page.locator("#data-api")
    expect(panel.locator("h2")).to_have_text("데이터 API와 SQL")
    expect(panel.locator("#data-api-table-sensors .dapi-url")).to_contain_text(
        f"/api/v1/data/{version.dataset.slug}/1/sensors?sample=1"
    )
    expect(panel.locator("#curl-sensors")).to_contain_text("sample=1")
    openapi = panel.locator("#data-api-table-sensors [data-openapi-link]").get_attribute("href")
    assert page.request.get(f"{live_server.url}{openapi}").json()["openapi"].startswith("3.1")

    panel.locator("#data-api-table-sensors summary").click()
    expect(panel.locator("[data-copy='curl-sensors']")).to_be_visible()

    panel.scroll_into_view_if_needed()
    run_query(page, SQL)
    table = page.locator("#sql-table")
    expect(table.locator("tbody tr")).to_have_count(4)
    averages = expected_averages()
    cells = table.locator("tbody tr").all()
    assert [row.locator("td").nth(0).inner_text() for row in cells] == list(averages)
    assert [float(row.locator("td").nth(1).inner_text()) for row in cells] == list(averages.values())
    expect(page.locator("#sql-summary")).to_contain_text("4행")
    expect(page.locator("#sql-summary")).to_contain_text("ms")
    canvas = page.locator("#sql-chart")
    expect(canvas).to_have_attribute("data-drawn", "true")
    assert canvas.evaluate(PAINTED), "the chart drew nothing"
    assert page.locator("#sql-x").input_value() == "0" and page.locator("#sql-y").input_value() == "1"
    expect(canvas).to_have_attribute("aria-label", "station에 따른 pm10_avg 차트. 숫자는 차트 아래 표에 있습니다.")
    shot(page, "sql-result")
    panel.screenshot(path=str(shot.folder / "panel-1280.png"))

    with page.expect_download() as download_info:
        page.click("#sql-export")
    text = open(download_info.value.path(), encoding="utf-8", newline="").read()
    assert text.startswith("\ufeffstation,pm10_avg\r\n") and "ST00," in text

    # a forbidden query says why, in Korean
    run_query(page, "SELECT * FROM read_csv('/etc/passwd')")
    error = page.locator("#sql-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("거부")

    # phone width: the panel fits, the result is still there
    page.set_viewport_size({"width": 390, "height": 844})
    run_query(page, "SELECT ts, pm10 FROM sensors ORDER BY ts")
    expect(table.locator("tbody tr")).to_have_count(SAMPLE_ROWS)
    expect(canvas).to_have_attribute("data-drawn", "true")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "sql-phone")
    panel.screenshot(path=str(shot.folder / "panel-390.png"))
    # Chromium logs the refused query's 400 (the answer the page shows); nothing else may be logged
    refused = "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    assert console_errors.count(refused) == 1
    assert [e for e in console_errors if e != refused] == []
