"""A company user signs up, verifies the e-mail, registers the company, an admin verifies it,
and the user switches the language to English and back."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import Organization
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _confirm_link(base_url):
    body = mail.outbox[-1].body
    return re.search(r"https?://[^\s]+/accounts/confirm-email/[^\s]+/", body).group(0)


def test_company_signup_registration_and_verification(live_server, page, browser, shot, console_errors):
    base = live_server.url
    admin = make_user("admin@test.example", name="관리자", staff=True)

    # 1. Sign up (Korean by default).
    page.goto(f"{base}/accounts/signup/")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    page.get_by_label("이메일").first.fill("kim@airdatalab.test")
    page.locator("#id_name").fill("김하늘")
    page.locator("#id_password1").fill("a-Long-pass-2026")
    page.locator("#id_password2").fill("a-Long-pass-2026")
    page.locator("#id_agree_terms").check()
    page.locator("#id_agree_privacy").check()
    shot(page, "signup")
    page.locator("form button[type=submit]").last.click()
    expect(page.locator("main")).to_contain_text("이메일")
    shot(page, "verification-sent")

    # 2. Verify the address with the link from the e-mail.
    assert mail.outbox and mail.outbox[-1].to == ["kim@airdatalab.test"]
    page.goto(_confirm_link(base))
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/me/"))
    shot(page, "verified-dashboard")

    # 3. Register the company with a valid business registration number.
    page.goto(f"{base}/me/organizations/new/")
    page.locator("#id_name_ko").fill("(주)에어데이터랩")
    page.locator("#id_name_en").fill("AirDataLab Inc.")
    page.locator("#id_kind").select_option("consumer")
    page.locator("#id_org_type").select_option("company")
    page.locator("#id_brn").fill("104-86-56659")
    page.locator("#id_vat_status").select_option("taxable")
    page.locator("#id_representative").fill("김하늘")
    page.locator("#id_contact_email").fill("kim@airdatalab.test")
    shot(page, "organization-form")
    page.locator("#org-submit").click()
    status = page.locator("#verification-status")
    expect(status).to_contain_text("검증")
    org = Organization.objects.get(brn="1048656659")
    assert org.verification == "requested"
    shot(page, "organization-pending")

    # 4. The admin verifies it in another browser session.
    admin_context = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
    admin_page = admin_context.new_page()
    admin_page.goto(f"{base}/accounts/login/")
    admin_page.locator("#id_login").fill(admin.email)
    admin_page.locator("#id_password").fill(PASSWORD)
    admin_page.locator("main form button[type=submit]").click()
    admin_page.goto(f"{base}/staff/organizations/")
    admin_page.get_by_role("link", name="(주)에어데이터랩").click()
    shot(admin_page, "admin-review")
    admin_page.locator("#verify-btn").click()
    expect(admin_page.locator("body")).to_contain_text("(주)에어데이터랩")
    shot(admin_page, "admin-verified")
    admin_context.close()
    org.refresh_from_db()
    assert org.verification == "verified" and org.verified_by == admin

    # 5. The user sees the verified state.
    page.reload()
    expect(page.locator("#verification-status")).to_contain_text(org.get_verification_display())
    shot(page, "organization-verified")

    # 6. English and back.
    page.locator("#lang-en").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#verification-status")).to_contain_text("Verified")
    shot(page, "english")
    page.locator("#lang-ko").click()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    shot(page, "korean-again")

    # 7. Phone width still works.
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(f"{base}/")
    shot(page, "home-phone")
    assert console_errors == []
