"""Submission and review in the browser: the official submits with a personal-data justification; the
admin rejects with a reason; the official reads it, fixes and resubmits; the admin approves. Then a
new version with an added column: the admin reads the diff and approves, superseding the old one."""

import io
import re

import pytest
from playwright.sync_api import expect

from catalog import services
from catalog.models import DataFile, DatasetVersion
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = "측정소명,미세먼지,담당자연락처\n" + "".join(
    f"정왕동,{20 + i},{'010-2345-6789' if i == 2 else ''}\n" for i in range(40)
)
ROWS_V2 = "측정소명,미세먼지,초미세먼지,담당자연락처\n" + "".join(f"정왕동,{20 + i},{10 + i},\n" for i in range(55))


def _login(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/me/|/staff/|/catalog/"))


def _upload_checked(official, version, text):
    data = text.encode("cp949")
    upload = services.upload_create(actor=official, version=version, filename="대기질.csv", length=len(data))
    services.upload_append(actor=official, upload=upload, offset=0, stream=io.BytesIO(data))
    for _ in range(300):
        if all(f.is_checked for f in DataFile.objects.filter(version=version)):
            return
        import time

        time.sleep(0.1)
    raise AssertionError("checks did not finish")


def test_submit_reject_fix_approve_and_supersede(
    live_server, page, browser, celery_worker, official, draft, shot, console_errors
):
    base = live_server.url
    admin = make_user("reviewer@siheung.test", name="심사자", staff=True)
    _upload_checked(official, draft, ROWS)
    assert DataFile.objects.get(version=draft).check_state == "warning"  # a phone number: justification needed

    _login(page, base, official.email)
    page.goto(f"{base}/catalog/provider/versions/{draft.pk}/")
    page.locator("#id_licence").select_option(label="공공누리 제1유형: 출처표시")
    page.locator("#licence-btn").click()
    page.locator("#id_kind").select_option("one_off")
    page.locator("#id_price_krw").fill("30000")
    page.locator("#id_cost_basis").fill("파일 가공·전송 비용(건당)")
    page.locator("#offer-btn").click()
    expect(page.locator("#offer-list")).to_contain_text("30,000")
    page.locator("#id_pii_justification").fill("담당자 연락처는 공개된 사무실 번호입니다.")
    shot(page, "official-submits")
    page.locator("#submit-btn").click()
    expect(page.locator("#waiting-notice")).to_be_visible()
    draft.refresh_from_db()
    assert draft.state == "submitted" and draft.pii_justification.startswith("담당자 연락처")

    admin_context = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
    admin_page = admin_context.new_page()
    _login(admin_page, base, admin.email)
    admin_page.goto(f"{base}/catalog/review/")
    admin_page.get_by_role("link", name=re.compile("시흥시 대기질 측정 자료")).first.click()
    expect(admin_page.locator("#pii-justification")).to_contain_text("공개된 사무실 번호")
    expect(admin_page.locator("#no-baseline")).to_be_visible()
    admin_page.locator("#reject-reason").fill("측정 단위(㎍/㎥)를 설명에 적어 주세요.")
    shot(admin_page, "admin-rejects")
    admin_page.locator("#reject-btn").click()
    draft.refresh_from_db()
    assert draft.state == "rejected"

    page.goto(f"{base}/catalog/provider/versions/{draft.pk}/")
    expect(page.locator("#rejected-box")).to_contain_text("측정 단위(㎍/㎥)를 설명에 적어 주세요.")
    shot(page, "official-reads-reason")
    page.locator("#reopen-btn").click()
    page.wait_for_url(re.compile(rf"/versions/{draft.pk}/"))
    services.version_update_metadata(actor=official, version=draft, description_ko="단위: ㎍/㎥ (1시간 평균)")
    page.goto(f"{base}/catalog/provider/versions/{draft.pk}/")
    page.locator("#id_pii_justification").fill("담당자 연락처는 공개된 사무실 번호입니다.")
    page.locator("#submit-btn").click()
    expect(page.locator("#waiting-notice")).to_be_visible()

    admin_page.goto(f"{base}/catalog/review/versions/{draft.pk}/")
    admin_page.locator("#approve-btn").click()
    draft.refresh_from_db()
    assert draft.state == "published"

    # The dataset page is public: a visitor who is not signed in reads it.
    visitor = browser.new_context(locale="ko-KR").new_page()
    visitor.goto(f"{base}/catalog/datasets/{draft.dataset.slug}/")
    expect(visitor.locator("#dataset-title")).to_have_text("시흥시 대기질 측정 자료")
    expect(visitor.locator("#dataset-version")).to_contain_text("1")

    # A new version with an added column: the reviewer sees the diff and approves.
    page.goto(f"{base}/catalog/provider/versions/{draft.pk}/")
    page.locator("#id_change_note").fill("초미세먼지 열을 추가했습니다.")
    page.locator("#new-version-btn").click()
    page.wait_for_url(re.compile(r"/versions/\d+/"))
    second = DatasetVersion.objects.get(dataset=draft.dataset, number=2)
    _upload_checked(official, second, ROWS_V2)
    services.version_submit(actor=official, version=second)

    admin_page.goto(f"{base}/catalog/review/versions/{second.pk}/")
    expect(admin_page.locator("#diff-files")).to_contain_text("초미세먼지")
    expect(admin_page.locator("#diff-files")).to_contain_text("40")
    expect(admin_page.locator("#diff-files")).to_contain_text("55")
    shot(admin_page, "admin-reads-diff")
    admin_page.locator("#approve-btn").click()
    admin_context.close()
    draft.refresh_from_db()
    second.refresh_from_db()
    assert (draft.state, second.state) == ("superseded", "published")
    assert list(second.dataset.versions.order_by("number").values_list("state", flat=True)) == [
        "superseded",
        "published",
    ]
    visitor.goto(f"{base}/catalog/datasets/{draft.dataset.slug}/")
    expect(visitor.locator("#dataset-version")).to_contain_text("2")
    expect(visitor.locator("#dataset-versions")).to_contain_text("초미세먼지 열을 추가했습니다.")
    shot(visitor, "public-dataset-page")
    assert console_errors == []
