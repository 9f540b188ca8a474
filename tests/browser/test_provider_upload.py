"""An official describes a dataset, uploads a CP949 CSV through the resumable uploader, watches the
progress and the checks (run by a real Celery worker), then reads the schema, profile chart, preview
and the personal-data warning."""

import re

import pytest
from playwright.sync_api import expect

from catalog.models import DataFile, DatasetVersion
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _cp949_csv(path, rows=30_000):
    lines = ["측정소명,측정일시,미세먼지(㎍/㎥),초미세먼지(㎍/㎥),비고,담당자연락처"]
    for i in range(rows):
        phone = "010-2345-6789" if i % 5000 == 7 else ""
        lines.append(
            f"{['정왕동', '대야동', '똠방각하'][i % 3]},2024-01-{1 + i % 28:02d} {i % 24:02d}:00,{i % 150},{i % 70},,{phone}"
        )
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp949"))
    return path


def test_official_uploads_and_reads_the_checks(
    live_server, page, celery_worker, official, reference_data, tmp_path, shot, console_errors
):
    base = live_server.url
    source = _cp949_csv(tmp_path / "시흥_대기질_2024.csv")

    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill(official.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/me/"))

    # 1. Describe the dataset.
    page.goto(f"{base}/catalog/provider/")
    shot(page, "my-datasets-empty")
    page.goto(f"{base}/catalog/provider/datasets/new/")
    page.locator("#id_title_ko").fill("시흥시 대기질 측정 자료")
    page.locator("#id_description_ko").fill("정왕동·대야동 측정소의 시간별 미세먼지 농도입니다.")
    page.locator("#id_theme").select_option(label="환경기상")
    page.locator("#id_tags").fill("미세먼지, 대기질")
    page.locator("#id_data_kind").select_option("public")
    page.locator("#id_contact_name").fill("정민준")
    page.locator("#id_contact_phone").fill("031-310-2114")
    page.locator("#id_contact_email").fill("official@siheung.test")
    page.locator("#id_update_cadence").select_option("monthly")
    shot(page, "describe")
    page.locator("#version-submit").click()
    page.wait_for_url(re.compile(r"/catalog/provider/versions/\d+/$"))
    version = DatasetVersion.objects.get(title_ko="시흥시 대기질 측정 자료")
    assert version.state == "draft"

    # 2. Upload through tus; the progress reaches 100 %.
    page.locator("#upload-input").set_input_files(str(source))
    progress = page.locator("#upload-list [role=progressbar]").first
    expect(progress).to_have_attribute("aria-valuenow", "100", timeout=30_000)
    shot(page, "uploaded")

    # 3. The checks run in the worker; the list refreshes by itself.
    files = page.locator("#version-files")
    expect(files).to_contain_text("시흥_대기질_2024.csv", timeout=30_000)
    datafile = DataFile.objects.get(version=version)
    assert datafile.size == source.stat().st_size
    for _ in range(300):
        datafile.refresh_from_db()
        if datafile.is_checked:
            break
        page.wait_for_timeout(100)
    assert datafile.check_state == "warning", datafile.check_messages
    expect(files).to_contain_text("30,000", timeout=10_000)
    shot(page, "checked")

    # 4. The file's report: schema, profile chart, preview, personal-data warning.
    page.locator("#version-files").get_by_role("link", name="시흥_대기질_2024.csv", exact=True).click()
    expect(page.locator("main")).to_contain_text(re.compile("cp949", re.IGNORECASE))
    expect(page.locator("main")).to_contain_text("미세먼지(㎍/㎥)")
    histogram = page.locator("main canvas[data-chart=histogram]").first
    histogram.scroll_into_view_if_needed()
    expect(histogram).to_be_visible()
    # Charts draw when they scroll into view: wait until the canvas has painted pixels.
    page.wait_for_function(
        """(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true; return false; }""",
        arg=histogram.element_handle(),
        timeout=10_000,
    )
    histogram.screenshot(path=str(shot(page, "before-chart").with_name("histogram.png")))
    expect(page.locator("main")).to_contain_text("똠방각하")  # a CP949-only syllable survived the transcoding
    expect(page.locator("main")).to_contain_text("010-****-6789")
    shot(page, "file-report")
    assert console_errors == []
