"""Issue 13, versions: the official starts a new version from the published one on the dataset list (the
files come over with their checks), replaces one file, removes another, changes one phrase of the
description and submits; the admin reads the word diff and the column flags. Korean and English, desktop
and a 390 px phone."""

import io
import re
import time

import pytest
from playwright.sync_api import expect

from catalog import services
from catalog.models import DataFile, DatasetVersion, Licence
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_KO = (
    "시흥시 정왕동 측정소에서 2019년부터 수집한 시간별 대기질 자료입니다. 미세먼지와 초미세먼지 농도를 "
    "매시간 기록하며, 측정 장비 점검 기간의 값은 비어 있습니다. 자료는 매월 초에 갱신되고, 이상값은 "
    "환경정책과가 검토한 뒤 표시합니다. 활용 시 출처를 밝혀 주십시오."
)
AIR_2024 = "측정소명,측정일시,미세먼지\n" + "".join(f"정왕동,2024-06-01 {h:02d}:00,{20 + h}\n" for h in range(24))
AIR_2025 = "측정소명,측정일시,미세먼지,초미세먼지\n" + "".join(
    f"정왕동,2025-06-01 {h % 24:02d}:00,{20 + h},{10 + h}\n" for h in range(30)
)
PLACES = "측정소명,주소\n정왕동,시흥시 정왕동\n대야동,시흥시 대야동\n"
COMPLAINTS = "접수번호,내용\n1,소음\n2,먼지\n3,냄새\n"

TEXT = {
    "ko": {"from": "버전 1에서 가져옴", "replaced": "교체됨", "more_rows": "6행 늘어남", "removed": "삭제:"},
    "en": {"from": "From version 1", "replaced": "Replaced", "more_rows": "6 more rows", "removed": "removed:"},
}


def _login(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/me/|/staff/|/catalog/"))


def _wait(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _publish(official, admin_user, draft):
    services.version_update_metadata(
        actor=official, version=draft, description_ko=LONG_KO, licence=Licence.objects.get(code="kogl-1")
    )
    for name, text in (("대기질_2024.csv", AIR_2024), ("측정소.csv", PLACES), ("민원.csv", COMPLAINTS)):
        data = text.encode("utf-8")
        upload = services.upload_create(actor=official, version=draft, filename=name, length=len(data))
        services.upload_append(actor=official, upload=upload, offset=0, stream=io.BytesIO(data))
    _wait(lambda: all(f.is_checked for f in DataFile.objects.filter(version=draft)), "the checks of version 1")
    services.offer_create(actor=official, dataset=draft.dataset, kind="free")
    services.version_submit(actor=official, version=draft)
    return services.version_approve(actor=admin_user, version=draft)


def _fits(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width}px wide"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_new_version_from_the_published_one_replace_remove_submit_review(
    live_server, browser, celery_worker, official, admin_user, draft, shot, lang
):
    base, text = live_server.url, TEXT[lang]
    published = _publish(official, admin_user, draft)
    originals = {f.original_name: f for f in published.files.all()}

    def context(width=1280):
        ctx = browser.new_context(locale="ko-KR", viewport={"width": width, "height": 900})
        ctx.add_cookies([{"name": "django_language", "value": lang, "url": base}])
        return ctx

    errors = []
    page = context().new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    _login(page, base, official.email)

    # The dataset list offers "start a new version" on the published dataset.
    page.goto(f"{base}/catalog/provider/")
    start = page.locator(f"a[data-new-version='{published.dataset_id}']")
    expect(start).to_be_visible()
    shot(page, f"{lang}-1-dataset-list")
    start.click()
    expect(page.locator("#carry-files tbody tr")).to_have_count(3)
    shot(page, f"{lang}-2-new-version-page")
    page.locator("#id_change_note").fill("2025년 자료로 바꾸고 민원 파일을 뺐습니다.")
    page.locator("#new-version-btn").click()
    page.wait_for_url(re.compile(r"/provider/versions/\d+/$"))
    second = DatasetVersion.objects.get(dataset=published.dataset, number=2)
    assert page.url.endswith(f"/versions/{second.pk}/")
    expect(page.locator("#carried-files")).to_be_visible()
    expect(page.locator("[data-lineage='carried']")).to_have_count(3)
    expect(page.locator("#version-files")).to_contain_text(text["from"])
    shot(page, f"{lang}-3-draft-with-carried-files")

    # Replace the air-quality file with the 2025 one (a new name, a new column, more rows).
    carried_air = second.files.get(original_name="대기질_2024.csv")
    page.locator(f"#replace-{carried_air.pk}").set_input_files(
        files=[{"name": "대기질_2025.csv", "mimeType": "text/csv", "buffer": AIR_2025.encode("utf-8")}]
    )
    _wait(
        lambda: second.files.filter(original_name="대기질_2025.csv", check_state="passed").exists(),
        "the replacement to be uploaded and checked",
    )
    # Remove the complaints file (the page asks first).
    page.reload()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#remove-{second.files.get(original_name='민원.csv').pk}").click()
    page.wait_for_url(re.compile(rf"/versions/{second.pk}/$"))
    expect(page.locator("[data-lineage='replaced']")).to_have_count(1)
    expect(page.locator("[data-lineage='carried']")).to_have_count(1)
    expect(page.locator("#version-files")).not_to_contain_text("민원.csv")
    shot(page, f"{lang}-4-draft-replaced-and-removed")
    # Version 1 kept every file and its bytes.
    assert set(published.files.values_list("original_name", flat=True)) == set(originals)
    assert all(f.file.storage.exists(f.file.name) for f in originals.values())

    # One phrase of the long description changes.
    page.goto(f"{base}/catalog/provider/versions/{second.pk}/edit/")
    page.locator("#id_description_ko").fill(LONG_KO.replace("매월 초에", "매주 월요일에"))
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_url(re.compile(rf"/versions/{second.pk}/$"))
    _wait(lambda: DatasetVersion.objects.get(pk=second.pk).state == "ready", "the new version to be ready")
    page.reload()
    page.locator("#submit-btn").click()
    expect(page.locator("#waiting-notice")).to_be_visible()
    assert DatasetVersion.objects.get(pk=second.pk).state == "submitted"

    # The admin reads the diff: only the changed words, and the replaced file's column flags.
    admin = context().new_page()
    _login(admin, base, admin_user.email)
    admin.goto(f"{base}/catalog/review/versions/{second.pk}/")
    row = admin.locator("#diff-fields tr[data-field='description_ko']")
    expect(row.locator("del.rv-del")).to_have_count(1)
    expect(row.locator("del.rv-del")).to_have_text(f"[{text['removed']} 매월 초에]")
    expect(row.locator("ins.rv-ins")).to_have_count(1)
    expect(row.locator("ins.rv-ins")).to_contain_text("매주 월요일에")
    # The unchanged words are not struck through (the whole old text was, before issue 13).
    expect(row.locator("td.rv-old")).not_to_have_css("text-decoration-line", "line-through")
    expect(admin.locator("#column-changes")).to_be_visible()
    flagged = admin.locator("#diff-files tr.rv-flagged")
    expect(flagged).to_have_count(1)
    expect(flagged).to_have_attribute("data-file", "대기질_2025.csv")
    expect(flagged).to_contain_text("대기질_2024.csv")
    expect(flagged).to_contain_text(text["replaced"])
    expect(flagged.locator("[data-change='added']")).to_contain_text("초미세먼지")
    expect(flagged).to_contain_text(text["more_rows"])
    expect(admin.locator("#diff-files tr[data-file='측정소.csv']")).to_have_attribute("data-status", "unchanged")
    expect(admin.locator("#diff-files tr[data-file='민원.csv']")).to_have_attribute("data-status", "removed")
    admin.locator("#changes").scroll_into_view_if_needed()
    shot(admin, f"{lang}-5-review-diff")
    admin.locator("#changes").screenshot(path=str(shot(admin, f"{lang}-5b-review").parent / f"{lang}-5c-changes.png"))

    # The same pages on a 390 px phone.
    phone = context(390).new_page()
    _login(phone, base, admin_user.email)
    phone.goto(f"{base}/catalog/review/versions/{second.pk}/")
    expect(phone.locator("#diff-fields del.rv-del")).to_have_count(1)
    _fits(phone)
    phone.locator("#changes").screenshot(
        path=str(shot(phone, f"{lang}-6-review-390").parent / f"{lang}-6b-changes-390.png")
    )
    provider_phone = context(390).new_page()
    _login(provider_phone, base, official.email)
    provider_phone.goto(f"{base}/catalog/provider/versions/{second.pk}/")
    expect(provider_phone.locator("[data-lineage='carried']")).to_have_count(1)
    _fits(provider_phone)
    shot(provider_phone, f"{lang}-7-draft-390")
    provider_phone.goto(f"{base}/catalog/provider/")
    _fits(provider_phone)
    shot(provider_phone, f"{lang}-8-dataset-list-390")
    assert errors == []
