"""An official describes the columns of a checked file in the provider workspace; once the version is
published, the dataset page shows the dictionary and draws the maps (the points of a table, the shapes of a
GeoJSON), in Korean, in English and at 390 px, with no console error (the CSP allows the map)."""

import json
import math
import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import expect

from catalog import services
from catalog.models import Licence
from tests.catalog.test_dataset_page import run_checks, upload
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def stations_csv(n=600) -> bytes:
    lines = ["측정소,측정값,등급,위도,경도"]
    for i in range(n):
        lat, lon = 37.34 + (i * 37 % 100) / 1000, 126.70 + (i * 53 % 120) / 1000
        lines.append(f"지점{i % 40},{10 + i % 80},{1 + i % 3},{lat:.5f},{lon:.5f}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def zones_geojson() -> bytes:
    features = []
    for i in range(12):
        cx, cy, r = 126.72 + (i % 4) * 0.03, 37.36 + (i // 4) * 0.03, 0.01
        ring = [[cx + r * math.cos(2 * math.pi * a / 24), cy + r * math.sin(2 * math.pi * a / 24)] for a in range(24)]
        features.append(
            {
                "type": "Feature",
                "properties": {"구역": f"구역{i}"},
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
            }
        )
    features.append(
        {
            "type": "Feature",
            "properties": {"구역": "도로"},
            "geometry": {"type": "LineString", "coordinates": [[126.70, 37.33], [126.83, 37.44]]},
        }
    )
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()


def test_official_describes_columns_and_the_dataset_page_shows_them_with_maps(
    live_server, page, official, admin_user, draft, shot, console_errors
):
    base = live_server.url
    upload(official, draft, "측정소.csv", stations_csv())
    upload(official, draft, "관리구역.geojson", zones_geojson())
    datafile = draft.files.get(original_name="측정소.csv")

    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill(official.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/me/"))

    # The version page says how many columns are described and leads to the file's form.
    page.goto(f"{base}/catalog/provider/versions/{draft.pk}/")
    link = page.locator(f"#dictionary-link-{datafile.pk}")
    expect(link).to_have_text("열 설명: 5개 중 0개")
    link.click()
    form = page.locator("#dictionary-form")
    expect(form).to_be_visible()
    column = page.locator("#dictionary-column-1")  # 측정값
    expect(column.locator("legend")).to_have_text("측정값 열")
    expect(column.locator(".pg-dictionary-name")).to_be_visible()
    expect(column).to_contain_text("정수")
    column.get_by_label("열의 뜻 (한국어)").fill("미세먼지(PM10) 1시간 평균 농도")
    column.get_by_label("영어 설명 (선택)").fill("PM10, hourly mean")
    column.get_by_label("단위").fill("㎍/㎥")
    grade = page.locator("#dictionary-column-2")
    grade.get_by_label("열의 뜻 (한국어)").fill("대기질 등급")
    grade.get_by_label("코드표 (값이 코드인 경우)").fill("1 = 좋음 | Good\n2 = 보통 | Moderate\n3 = 나쁨")
    shot(page, "provider-dictionary-form")
    page.locator("#dictionary-save").click()
    expect(page.locator("body")).to_contain_text("열 설명을 저장했습니다.")
    page.locator("#dictionary-column-2").screenshot(path=str(shot(page, "form").with_name("form-column-ko.png")))
    # The form at phone width, and in English.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("#dictionary-column-2").scroll_into_view_if_needed()
    page.locator("#dictionary").screenshot(path=str(shot(page, "form-390").with_name("form-390.png")))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator("#lang-en").click()
    expect(page.locator("#dictionary-column-2")).to_contain_text("What the column means (Korean)")
    page.locator("#dictionary-column-2").screenshot(path=str(shot(page, "form-en").with_name("form-column-en.png")))
    page.locator("#lang-ko").click()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    datafile.refresh_from_db()
    assert datafile.dictionary["측정값"]["unit"] == "㎍/㎥"
    assert [c["label_ko"] for c in datafile.dictionary["등급"]["codes"]] == ["좋음", "보통", "나쁨"]

    # A platform admin approves it (the review flow has its own tests).
    services.offer_create(actor=official, dataset=draft.dataset, kind="free")
    services.version_update_metadata(actor=official, version=draft, licence=Licence.objects.get(code="kogl-1"))
    run_checks(draft)
    services.version_submit(actor=official, version=draft)
    services.version_approve(actor=admin_user, version=draft)
    draft.refresh_from_db()
    assert draft.spatial_bbox  # filled from the data

    tile_host = urlsplit(settings.MAP_TILE_URL).netloc
    page.route(f"**://{tile_host}/**", lambda route: route.abort())  # offline, whatever the machine
    url = f"{base}/catalog/datasets/{draft.dataset.slug}/"
    page.goto(url)
    dictionary = page.locator(f"#dictionary-{datafile.pk}")
    expect(dictionary).to_contain_text("미세먼지(PM10) 1시간 평균 농도")
    expect(dictionary).to_contain_text("㎍/㎥")
    expect(dictionary).to_contain_text("좋음")
    dictionary.scroll_into_view_if_needed()
    dictionary.screenshot(path=str(shot(page, "dictionary-ko").with_name("dictionary-ko.png")))

    map_box = page.locator("#coverage-map")
    map_box.scroll_into_view_if_needed()
    expect(map_box).to_have_attribute("data-layers", "2", timeout=10_000)
    # The table's points on a canvas, the GeoJSON's shapes as SVG paths (12 polygons, 1 line, the outline).
    expect(map_box.locator("canvas")).to_have_count(1)
    expect(map_box.locator(".leaflet-overlay-pane svg path")).to_have_count(14)
    expect(page.locator("#coverage-text")).to_contain_text("위도·경도 열에서 읽은 위치 600개")
    expect(page.locator("#coverage-text")).to_contain_text("도형 13개")
    page.locator("#coverage").screenshot(path=str(shot(page, "map-ko").with_name("map-ko.png")))
    shot(page, "dataset-ko")

    # Phone width.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(url)
    expect(page.locator("#coverage-map")).to_have_attribute("data-layers", "2", timeout=10_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("#coverage").screenshot(path=str(shot(page, "dataset-390").with_name("map-390.png")))
    page.locator(f"#dictionary-{datafile.pk}").scroll_into_view_if_needed()
    page.locator(f"#dictionary-{datafile.pk}").screenshot(
        path=str(shot(page, "dataset-390").with_name("dictionary-390.png"))
    )

    # English: the English description and labels; Korean where none was written.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator("#lang-en").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    dictionary = page.locator(f"#dictionary-{datafile.pk}")
    expect(dictionary).to_contain_text("PM10, hourly mean")
    expect(dictionary).to_contain_text("Moderate")
    expect(dictionary.locator('p[lang="ko"]')).to_have_text("대기질 등급")
    expect(page.locator("#coverage-text")).to_contain_text("600 locations from the latitude and longitude columns.")
    expect(page.locator("#coverage-map")).to_have_attribute("data-layers", "2", timeout=10_000)
    shot(page, "dataset-en")
    dictionary.screenshot(path=str(shot(page, "dictionary-en").with_name("dictionary-en.png")))
    assert not [e for e in console_errors if "Content Security Policy" in e or "Refused" in e], console_errors
