"""Issue 13 in Chromium: the dataset page and the provider's file page show exact distinct counts without
"≈", the first rows as written in the file (with the kind under each column name and the cells read as
empty or not of their kind marked), and a painted chart of counts over time for a date-time column; in
Korean and English, at desktop width and on a 390 px phone."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_dataset_page import PAINTED, await_worker
from tests.catalog.test_dataset_page import publish
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = {
    "ko": {"empty": "빈 값으로 읽음", "invalid": "정수가 아님", "kind": "날짜와 시각"},
    "en": {"empty": "read as empty", "invalid": "not a whole number", "kind": "Dates with times"},
}


def readings_csv(rows=90) -> bytes:
    """30 days of readings, 3 a day; 미세먼지 has "-" (read as empty) on row 2, 상태 is whole numbers but for
    "없음" on row 3 (so it stays text and that cell is marked)."""
    lines = ["측정소명,측정일시,미세먼지,상태,담당자연락처"]
    for i in range(rows):
        lines.append(
            f"{['정왕동', '대야동', '배곧동'][i % 3]},2024-01-{1 + i // 3:02d} {8 * (i % 3):02d}:00,"
            f"{'-' if i == 1 else 10 + i % 40},{'없음' if i == 2 else i % 4},{'010-2345-6789' if i == 3 else ''}"
        )
    return ("\r\n".join(lines) + "\r\n").encode("cp949")


def _login(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/me/|/staff/|/catalog/"))


def test_profile_and_first_rows_on_both_pages(
    live_server, browser, celery_worker, official, admin_user, reference_data, shot
):
    version = publish(
        official,
        admin_user,
        files=[("시흥_측정.csv", readings_csv())],
        checks=await_worker,
        justification="담당자 사무실 번호입니다",
    )
    datafile = version.files.get()
    base = live_server.url
    dataset_url = f"{base}/catalog/datasets/{version.dataset.slug}/"
    file_url = f"{base}/catalog/provider/files/{datafile.pk}/"

    for lang in ("ko", "en"):
        for width in (1280, 390):
            ctx = browser.new_context(locale="ko-KR", viewport={"width": width, "height": 900})
            ctx.add_cookies([{"name": "django_language", "value": lang, "url": base}])
            page = ctx.new_page()
            errors = []
            page.on("console", lambda msg, errors=errors: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
            text = TEXT[lang]

            # The public dataset page.
            page.goto(dataset_url)
            schema = page.locator(f"#schema-{datafile.pk}")
            expect(schema).to_be_visible()
            expect(schema).not_to_contain_text("≈")
            timeline = page.locator(f"#file-{datafile.pk} canvas[data-chart=timeline]")
            expect(timeline).to_have_count(1)
            timeline.scroll_into_view_if_needed()
            page.wait_for_function(PAINTED, arg=timeline.element_handle(), timeout=10_000)
            sample = page.locator(f"#sample-{datafile.pk}")
            sample.scroll_into_view_if_needed()
            expect(sample.locator("thead")).to_contain_text(text["kind"])
            expect(sample.locator("tbody tr").first).to_contain_text("2024-01-01 00:00")
            expect(sample).not_to_contain_text("T00:00")
            expect(sample.locator("tbody tr").nth(1)).to_contain_text(text["empty"])
            expect(sample.locator("tbody tr").nth(2)).to_contain_text(text["invalid"])
            expect(sample).to_contain_text("010-****-6789")
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            shot(page, f"{lang}-{width}-dataset")
            sample.screenshot(path=str(shot.folder / f"{lang}-{width}-sample-rows.png"))
            timeline.screenshot(path=str(shot.folder / f"{lang}-{width}-timeline.png"))

            # The provider's file page.
            _login(page, base, official.email)
            page.goto(file_url)
            stats = page.locator("table.pg-stats")
            expect(stats).not_to_contain_text("≈")
            card = page.locator("#col-2")
            expect(card.locator("canvas[data-chart=timeline]")).to_have_count(1)
            card.scroll_into_view_if_needed()
            page.wait_for_function(PAINTED, arg=card.locator("canvas").element_handle(), timeout=10_000)
            preview = page.locator("#preview table")
            preview.scroll_into_view_if_needed()
            expect(preview.locator("tbody tr").first).to_contain_text("2024-01-01 00:00")
            expect(preview).not_to_contain_text("T00:00")
            expect(preview.locator("tbody tr").nth(1)).to_contain_text(text["empty"])
            expect(preview.locator("tbody tr").nth(2)).to_contain_text(text["invalid"])
            expect(card).to_contain_text("2024-01-01 00:00:00")  # the range as written, not 2024-01-01T00:00:00
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            shot(page, f"{lang}-{width}-file")
            card.screenshot(path=str(shot.folder / f"{lang}-{width}-file-card.png"))
            preview.screenshot(path=str(shot.folder / f"{lang}-{width}-first-rows.png"))
            stats.screenshot(path=str(shot.folder / f"{lang}-{width}-stats.png"))
            assert errors == [], errors
            ctx.close()
