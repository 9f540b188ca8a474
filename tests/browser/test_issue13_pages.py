"""The pages changed for issue 13, in Korean and English on a 390 px phone: what they say, and that
nothing is wider than the screen."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from catalog.models import DatasetVersion, Licence
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = {
    "ko": {
        "remember": "로그인 상태 유지",
        "empty": "“없는단어”에 맞는 데이터셋이 없습니다.",
        "waiting": "1건 대기 중",
        "just_now": "방금 심사 요청됨",
        "brn_note": "검증 숫자가 맞지 않습니다",
        "licence": "공공데이터법 제3조④",
    },
    "en": {
        "remember": "Keep me signed in",
        "empty": "No dataset matches “없는단어”.",
        "waiting": "1 waiting",
        "just_now": "Review requested just now",
        "brn_note": "check digit of business registration number 123-45-67890 does not match",
        "licence": "공공데이터법 제3조④",
    },
}


def _login(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/me/|/staff/|/catalog/"))


def _fits(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width}px wide"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_issue13_pages_on_a_phone(live_server, browser, official, admin_user, draft, shot, lang):
    base, text = live_server.url, TEXT[lang]
    DatasetVersion.objects.filter(pk=draft.pk).update(state="submitted", submitted_at=timezone.now())

    def context():
        ctx = browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 844})
        ctx.add_cookies([{"name": "django_language", "value": lang, "url": base}])
        return ctx

    anonymous = context().new_page()
    anonymous.goto(f"{base}/accounts/login/")
    expect(anonymous.locator("main")).to_contain_text(text["remember"])
    _fits(anonymous)
    shot(anonymous, f"{lang}-login")
    anonymous.goto(f"{base}/catalog/?q=없는단어")
    expect(anonymous.locator("#no-results")).to_contain_text(text["empty"])
    _fits(anonymous)
    shot(anonymous, f"{lang}-empty-search")

    admin = context().new_page()
    _login(admin, base, admin_user.email)
    admin.goto(f"{base}/staff/")
    expect(admin.locator("#dataset-review-card")).to_contain_text(text["waiting"])
    _fits(admin)
    shot(admin, f"{lang}-staff-home")

    publisher = context().new_page()
    _login(publisher, base, official.email)
    publisher.goto(f"{base}/catalog/provider/versions/{draft.pk}/submission/")
    expect(publisher.locator("#waiting-notice")).to_contain_text(text["just_now"])
    _fits(publisher)
    shot(publisher, f"{lang}-submission-just-now")

    # A draft of public data given 공공누리 제2유형 on the description form.
    DatasetVersion.objects.filter(pk=draft.pk).update(state="draft", submitted_at=None)
    publisher.goto(f"{base}/catalog/provider/versions/{draft.pk}/edit/")
    publisher.locator("#id_licence").select_option(str(Licence.objects.get(code="kogl-2").pk))
    publisher.locator("main form button[type=submit]").last.click()
    expect(publisher.locator("main")).to_contain_text(text["licence"])
    _fits(publisher)
    shot(publisher, f"{lang}-licence-refused")

    # An organization whose number fails the check digit is registered, with a note.
    publisher.goto(f"{base}/me/organizations/new/")
    publisher.locator("#id_name_ko").fill("정왕동 주민자치회")
    publisher.locator("#id_name_en").fill("Jeongwang-dong residents")
    publisher.locator("#id_kind").select_option("consumer")
    publisher.locator("#id_org_type").select_option("citizen_group")
    publisher.locator("#id_brn").fill("123-45-67890")
    publisher.locator("#id_vat_status").select_option("exempt")
    publisher.locator("#id_contact_email").fill("jw@test.example")
    shot(publisher, f"{lang}-organization-form")
    publisher.locator("#org-submit").click()
    expect(publisher.locator("body")).to_contain_text(text["brn_note"])
    shot(publisher, f"{lang}-organization-brn-note")
    _fits(publisher)
