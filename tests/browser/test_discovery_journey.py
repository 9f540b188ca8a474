"""Discovery in the browser, on the demo catalog: a visitor searches 미세먼지, narrows by theme and free
(htmx swaps the results and the URL follows; the back button restores the previous state), opens a dataset,
sees the profile chart, the sample rows and the coverage map, and downloads the free sample."""

import csv
import io
import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _state(url: str) -> dict:
    return {k: sorted(v) for k, v in parse_qs(urlparse(url).query).items()}


def test_search_narrow_open_and_take_the_sample(
    live_server, page, reference_data, settings, tmp_path, shot, console_errors
):
    settings.VAR_DIR = tmp_path
    settings.MAP_TILE_URL = (
        "http://127.0.0.1:9/{z}/{x}/{y}.png"  # no tile server reachable: the outline must still draw
    )
    call_command("load_demo", verbosity=0)
    base = live_server.url

    page.goto(f"{base}/")
    page.locator("#home-search-q").fill("미세먼지")
    page.locator("#home-search-q").press("Enter")
    page.wait_for_url(re.compile(r"/catalog/\?q="))
    expect(page.locator("#result-count")).to_be_visible()
    total = int(page.locator("#result-count").get_attribute("data-total"))
    assert total >= 2
    titles = page.locator("#dataset-list .cat-item-title").all_inner_texts()
    assert any("미세먼지" in t for t in titles)
    shot(page, "search-results")

    # Narrow by theme: htmx swaps only the results (no navigation) and pushes the URL.
    page.evaluate("window.__marker = 1")
    page.locator('.cat-facet-link[data-facet="theme"][data-value="environment"]').click()
    page.wait_for_url(re.compile(r"theme=environment"))
    expect(page.locator('.cat-facet-link[data-facet="theme"][data-value="environment"]')).to_have_attribute(
        "aria-current", "true"
    )
    assert page.evaluate("window.__marker") == 1, "the page was reloaded instead of swapped"
    after_theme = int(page.locator("#result-count").get_attribute("data-total"))
    assert 1 <= after_theme <= total

    page.locator('.cat-facet-link[data-facet="price"][data-value="free"]').click()
    page.wait_for_url(re.compile(r"price=free"))
    assert _state(page.url) == {"q": ["미세먼지"], "theme": ["environment"], "price": ["free"]}
    expect(page.locator(".cat-chips")).to_contain_text("무료")
    shot(page, "narrowed")

    # The back button restores the previous state; forward again.
    page.go_back()
    page.wait_for_url(lambda url: "price=free" not in url)
    expect(page.locator('.cat-facet-link[data-facet="price"][data-value="free"]')).not_to_have_attribute(
        "aria-current", "true"
    )
    page.go_forward()
    page.wait_for_url(re.compile(r"price=free"))

    # A shared link opens the same state in a fresh page (without JavaScript too).
    shared = page.url
    context = page.context.browser.new_context(java_script_enabled=False, locale="ko-KR")
    plain = context.new_page()
    plain.goto(shared)
    expect(plain.locator('.cat-facet-link[data-facet="price"][data-value="free"]')).to_have_attribute(
        "aria-current", "true"
    )
    assert plain.locator("#result-count").get_attribute("data-total") == page.locator("#result-count").get_attribute(
        "data-total"
    )
    context.close()

    # Open the hourly particulate-matter dataset.
    page.get_by_role("link", name="시흥시 미세먼지 시간별 측정 자료").click()
    page.wait_for_url(re.compile(r"/catalog/datasets/siheung-air-quality/"))
    expect(page.locator("#dataset-title")).to_contain_text("미세먼지")

    # A profile chart is painted (pixels that are not background), the sample rows are there, the map draws
    # the coverage outline although no tile loads.
    canvas = page.locator("canvas").first
    canvas.scroll_into_view_if_needed()
    expect(canvas).to_be_visible()
    page.wait_for_function("""() => { const c = document.querySelector('canvas'); if (!c || !c.width) return false;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true; return false; }""")
    sample_table = page.locator("table[id^=sample-]").first
    expect(sample_table).to_be_visible()
    assert sample_table.locator("tbody tr").count() >= 5
    page.locator("#coverage-map").scroll_into_view_if_needed()
    expect(page.locator("#coverage-map .leaflet-overlay-pane svg path.coverage-outline")).to_have_count(1)
    expect(page.locator("#purchase-panel")).to_contain_text("무료")
    shot(page, "dataset-page")

    # The free sample downloads as CSV with the sample rows.
    with page.expect_download() as info:
        page.locator("#sample-download").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    text = open(download.path(), encoding="utf-8-sig").read()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "측정소명" and len(rows) > 5
    errors = [
        e for e in console_errors if "tile" not in e and "127.0.0.1:9" not in e and "ERR_CONNECTION_REFUSED" not in e
    ]
    assert not errors, "\n".join(errors)
