"""In Chromium: a buyer makes an API key on /me/api-keys/, sees it once, reads it from the page, uses it against
/api/v1/me/, and revokes it; Swagger UI and Redoc draw the operations of /api/schema/ in the site's frame with no
console error (no CSP violation). Screenshots in Korean and English, at desktop width and on a 390 px phone
(test artefacts, and /tmp/docs-shots/ when that folder exists)."""

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from accounts.models import ApiToken
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXTRA_SHOTS = Path("/tmp/docs-shots")
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def _login(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/me/|/staff/|/catalog/"))


def _save(page, shot, name):
    path = shot(page, name)
    if EXTRA_SHOTS.is_dir():
        (EXTRA_SHOTS / path.name.split("-", 1)[1]).write_bytes(path.read_bytes())


def _me(base, key):
    return httpx.get(f"{base}/api/v1/me/", headers={"Authorization": f"Token {key}"}, timeout=10)


def test_a_key_is_made_seen_once_used_and_revoked(live_server, page, buyer, shot, console_errors):
    base = live_server.url
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    _login(page, base, buyer.email)
    page.goto(f"{base}/me/")
    page.locator("#dashboard-api-keys").click()
    page.wait_for_url(f"{base}/me/api-keys/")
    expect(page.locator("h1")).to_have_text("API 키")

    # Only what a buyer may give is enabled; each scope says what it is for.
    expect(page.locator("#id_scopes_read")).to_be_enabled()
    expect(page.locator("#id_scopes_buy")).to_be_enabled()
    expect(page.locator("#id_scopes_publish")).to_be_disabled()
    expect(page.locator("#id_scopes_admin")).to_be_disabled()
    expect(page.locator("#id_scopes_buy_help")).to_contain_text("장바구니")
    expect(page.locator("#id_expires_in_days")).to_have_value("365")

    page.locator("#id_name").fill("정산 시스템")
    page.locator("#id_scopes_buy").check()
    page.locator("#api-key-form button[type=submit]").click()

    # The key, once: read from the page (nothing is copied to be read back).
    field = page.locator("#new-api-key")
    expect(field).to_be_visible()
    expect(page.locator(".api-key-warning")).to_contain_text("한 번만")
    key = field.input_value()
    assert key.startswith("sdx_") and len(key) > 40
    page.get_by_role("button", name="복사").click()
    expect(page.locator("#new-key-status")).to_have_text("복사했습니다")
    token = ApiToken.objects.get(name="정산 시스템")
    assert sorted(token.scopes) == ["buy", "read"]
    for size in SIZES:
        page.set_viewport_size(SIZES[size])
        _save(page, shot, f"keys-created-ko-{size}")

    me = _me(base, key)
    assert me.status_code == 200 and me.json()["api_key"]["name"] == "정산 시스템"

    # Shown once: the page read again has only its first characters, and its last use.
    page.set_viewport_size(SIZES["desktop"])
    page.goto(f"{base}/me/api-keys/")
    assert key not in page.content()
    row = page.locator(f"#api-key-{token.pk}")
    expect(row).to_contain_text(f"{token.prefix}…")
    expect(row).to_contain_text("127.0.0.1")
    expect(row).to_contain_text("사용 중")

    # Revoke, after the question.
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    row.get_by_role("button", name="폐기").click()
    expect(page.locator(f"#api-key-{token.pk}")).to_contain_text("폐기됨")
    assert questions and "정산 시스템" in questions[0]
    assert _me(base, key).status_code == 401
    assert console_errors == []

    # The same page in English, at both widths.
    page.locator("#lang-en").click()
    expect(page.locator("h1")).to_have_text("API keys")
    expect(page.locator(f"#api-key-{token.pk}")).to_contain_text("Revoked")
    for size in SIZES:
        page.set_viewport_size(SIZES[size])
        _save(page, shot, f"keys-list-en-{size}")
    page.set_viewport_size(SIZES["desktop"])
    page.locator("#id_name").fill("Reporting")
    page.locator("#api-key-form button[type=submit]").click()
    expect(page.locator(".api-key-warning")).to_contain_text("shown only this once")
    _save(page, shot, "keys-created-en-desktop")
    page.set_viewport_size(SIZES["phone"])
    _save(page, shot, "keys-created-en-phone")
    page.locator("#lang-ko").click()
    page.goto(f"{base}/me/api-keys/")
    _save(page, shot, "keys-list-ko-phone")
    assert console_errors == []


@pytest.mark.parametrize("reader", ["swagger", "redoc"])
def test_the_readers_draw_the_operations_without_csp_errors(live_server, browser, reader, shot):
    base = live_server.url
    url = f"{base}/api/docs/" if reader == "swagger" else f"{base}/api/docs/redoc/"
    for language in ("ko", "en"):
        for size, viewport in SIZES.items():
            context = browser.new_context(locale="ko-KR", viewport=viewport)
            context.add_cookies([{"name": "django_language", "value": language, "url": base}])
            page = context.new_page()
            errors = []
            page.on("console", lambda msg, errors=errors: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
            page.goto(url)
            if reader == "swagger":
                operation = page.locator(".opblock-summary-path", has_text="/api/v1/me/").first
                expect(operation).to_be_visible(timeout=20_000)
                expect(page.locator(".opblock")).not_to_have_count(0)
                expect(page.locator("#api-docs")).to_contain_text("Who am I")
            else:
                expect(page.locator("#api-docs")).to_contain_text("Who am I", timeout=20_000)
                expect(page.locator("#api-docs")).to_contain_text("/api/v1/api-keys/")
            expect(page.locator("h1.pg-title")).to_have_text("API 문서" if language == "ko" else "API documentation")
            # The Korean descriptions of the schema; the readers' own titles are hidden (one <h1> a page).
            description = "데이터를 찾고" if reader == "swagger" else "로그인한 사용자"
            expect(page.locator("#api-docs")).to_contain_text(description)
            expect(page.locator("h1:visible")).to_have_count(1)
            _save(page, shot, f"{reader}-{language}-{size}")
            assert [e for e in errors if "Content Security Policy" in e or "Refused" in e] == [], errors
            assert errors == []
            context.close()
