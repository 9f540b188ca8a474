"""A buyer reads a published dataset's page in Chromium: the profile charts paint, the sample rows show
(personal data masked), the coverage map draws its outline although no map tile can load, and the free
sample downloads as a UTF-8 CSV with a byte-order mark. Then the same page at phone width and in English."""

import csv
import io
import time
from datetime import date
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import expect

from catalog.models import DataFile
from tests.catalog.test_dataset_page import BBOX, air_csv, publish

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAINTED = """(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                      for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true; return false; }"""


def await_worker(version):
    """The real worker checks the uploaded files; wait until every file (ZIP members too) is checked."""
    for _ in range(300):
        files = list(DataFile.objects.filter(version=version))
        if files and all(f.is_checked for f in files):
            version.refresh_from_db()
            return
        time.sleep(0.1)
    raise AssertionError("checks did not finish")


def test_buyer_reads_the_dataset_page(
    live_server, page, celery_worker, official, admin_user, reference_data, shot, tmp_path
):
    version = publish(
        official,
        admin_user,
        files=[("시흥_대기질.csv", air_csv(rows=60))],
        checks=await_worker,
        spatial_bbox=BBOX,
        spatial_area="경기도 시흥시",
        temporal_start=date(2024, 1, 1),
        justification="담당자 사무실 번호입니다",
        offers=[
            {"kind": "free"},
            {"kind": "subscription", "price_krw": 50_000, "subscription_days": 365, "cost_basis": "전송 시스템 유지비"},
        ],
    )
    datafile = version.files.get()
    url = f"{live_server.url}/catalog/datasets/{version.dataset.slug}/"

    # Offline, whatever the machine: every request to the tile server fails.
    tile_host = urlsplit(settings.MAP_TILE_URL).netloc
    tile_requests, errors = [], []
    page.route(f"**://{tile_host}/**", lambda route: (tile_requests.append(route.request.url), route.abort()))
    page.on(
        "console", lambda msg: errors.append((msg.text, msg.location.get("url", ""))) if msg.type == "error" else None
    )
    page.on("pageerror", lambda exc: errors.append((str(exc), "")))

    page.goto(url)
    expect(page.locator("h1")).to_have_text("시흥시 대기질 측정 자료")
    expect(page.locator("#dataset-offers")).to_contain_text("50,000")
    expect(page.locator("#dataset-offers")).to_contain_text("55,000")  # 과세 publisher: 10 % VAT
    shot(page, "dataset-page")

    # The coverage map: the rectangle is an SVG path although no tile loaded.
    map_box = page.locator("#coverage-map")
    map_box.scroll_into_view_if_needed()
    expect(map_box).to_have_attribute("data-drawn", "true")
    outline = map_box.locator(".leaflet-overlay-pane svg path.coverage-outline")
    expect(outline).to_have_count(1)
    assert outline.get_attribute("d").startswith("M")
    box = outline.bounding_box()
    assert box["width"] > 50 and box["height"] > 50
    map_rect = map_box.bounding_box()
    assert map_rect["x"] <= box["x"] and box["x"] + box["width"] <= map_rect["x"] + map_rect["width"] + 1
    page.wait_for_timeout(300)
    assert tile_requests, "the map asked for tiles"
    assert map_box.locator("img.leaflet-tile-loaded").count() == 0
    expect(page.locator("#coverage-text")).to_contain_text("경기도 시흥시")
    map_box.screenshot(path=str(shot(page, "coverage").with_name("map.png")))

    # A profile chart paints when it scrolls into view.
    histogram = page.locator(f"#file-{datafile.pk} canvas[data-chart=histogram]").first
    histogram.scroll_into_view_if_needed()
    page.wait_for_function(PAINTED, arg=histogram.element_handle(), timeout=10_000)
    histogram.screenshot(path=str(shot(page, "charts").with_name("histogram.png")))

    # Sample rows, with the phone number masked.
    sample = page.locator(f"#sample-{datafile.pk}")
    sample.scroll_into_view_if_needed()
    expect(sample).to_be_visible()
    expect(sample.locator("tbody tr")).to_have_count(10)
    expect(sample).to_contain_text("배곧동")
    expect(sample).to_contain_text("010-****-6789")
    expect(page.locator("main")).not_to_contain_text("010-2345-6789")
    shot(page, "sample-rows")

    # What the package holds: the file's SHA-256 (the bytes a buyer receives) and the Excel copy.
    contents = page.locator("#package-contents")
    contents.scroll_into_view_if_needed()
    expect(contents).to_contain_text(f"SHA-256 {datafile.sha256}")
    expect(contents).to_contain_text("data/excel/")
    contents.screenshot(path=str(shot(page, "package-contents").with_name("package-contents-ko.png")))

    # The free sample: a CSV download with a BOM, the preview rows, the Korean file name.
    with page.expect_download() as info:
        page.locator("#sample-download").click()
    download = info.value
    assert download.suggested_filename == "시흥_대기질_sample.csv"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    body = target.read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == datafile.preview["columns"]
    assert len(rows) == 1 + len(datafile.preview["rows"]) == 21
    assert rows[1][0] == datafile.preview["rows"][0][0] and "010-****-6789" in body.decode("utf-8-sig")

    # Phone width: nothing wider than the screen; the tables scroll inside their boxes.
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto(url)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    expect(page.locator("#coverage-map")).to_have_attribute("data-drawn", "true")
    shot(page, "phone")
    page.locator("#package-contents").screenshot(
        path=str(shot(page, "phone-package").with_name("package-contents-phone.png"))
    )

    # English.
    page.locator("#lang-en").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#dataset-offers")).to_contain_text("won")
    shot(page, "english")
    expect(page.locator("#package-contents")).to_contain_text("exactly as the publisher uploaded them")
    page.locator("#package-contents").screenshot(
        path=str(shot(page, "english-package").with_name("package-contents-en.png"))
    )

    # No error but the refused tile requests (no CSP violation, no script error).
    others = [text for text, source in errors if tile_host not in source]
    assert others == [], others
