"""The second factor in Chromium: an organization owner made to set up the authenticator app (MFA_REQUIRED_FOR_STAFF)
scans nothing but types the secret's code, as with a phone; a buyer adds a security key (WebAuthn, a virtual
authenticator through the Chrome DevTools Protocol) and signs in with it. Korean pages, no console error (CSP)."""

import re

import pyotp
import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import expect

from tests.browser.conftest import browser_context_args, browser_type_launch_args, shot  # noqa: F401 (fixtures)
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()


def _errors(page):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def _reauthenticate_if_asked(page):
    if "/accounts/reauthenticate/" in page.url:
        page.locator("#id_password").fill(PASSWORD)
        page.locator("main form button[type=submit]").click()


def test_an_owner_is_sent_to_the_set_up_and_turns_on_the_authenticator_app(live_server, page, official, settings, shot):
    settings.MFA_REQUIRED_FOR_STAFF = True
    base = live_server.url
    errors = _errors(page)
    _sign_in(page, base, official.email)
    page.wait_for_url(f"{base}/accounts/2fa/")
    expect(page.locator("main")).to_contain_text("2단계 인증을 설정해야 합니다")
    expect(page.locator("h1")).to_contain_text("2단계 인증")
    # Nothing else opens meanwhile.
    page.goto(f"{base}/catalog/provider/")
    page.wait_for_url(f"{base}/accounts/2fa/")
    shot(page, "set-up-required")

    page.locator("main a[href='/accounts/2fa/totp/activate/']").click()
    _reauthenticate_if_asked(page)
    page.wait_for_url(f"{base}/accounts/2fa/totp/activate/")
    expect(page.locator("main img")).to_be_visible()  # the QR code (an SVG data URI the CSP allows)
    secret = page.locator("#authenticator_secret").input_value()
    page.locator("#id_code").fill(pyotp.TOTP(secret).now())
    shot(page, "activate")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/accounts/2fa/(recovery-codes/)?$"))
    shot(page, "activated")
    assert Authenticator.objects.filter(user=official, type=Authenticator.Type.TOTP).exists()
    page.goto(f"{base}/catalog/provider/")
    page.wait_for_url(f"{base}/catalog/provider/")
    # No horizontal overflow on a phone.
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{base}/accounts/2fa/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert errors == []


def test_a_buyer_adds_a_security_key_and_signs_in_with_it(live_server, page, buyer, shot):
    base = live_server.url
    assert base.startswith("http://localhost:")  # WebAuthn's secure context: https, or http://localhost
    errors = _errors(page)
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]

    _sign_in(page, base, buyer.email)
    page.wait_for_url(f"{base}/me/")
    page.goto(f"{base}/accounts/2fa/webauthn/add/")
    _reauthenticate_if_asked(page)
    page.wait_for_url(f"{base}/accounts/2fa/webauthn/add/")
    page.locator("#id_name").fill("업무용 보안키")
    shot(page, "add-key")
    page.locator("#mfa_webauthn_add").click()
    page.wait_for_url(re.compile(r"/accounts/2fa/(recovery-codes/|webauthn/)?$"))
    key = Authenticator.objects.get(user=buyer, type=Authenticator.Type.WEBAUTHN)
    assert key.wrap().name == "업무용 보안키"
    assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]) == 1

    page.context.clear_cookies()
    _sign_in(page, base, buyer.email)
    page.wait_for_url(f"{base}/accounts/2fa/authenticate/")
    shot(page, "authenticate")
    page.locator("#mfa_webauthn_authenticate").click()
    page.wait_for_url(f"{base}/me/")
    shot(page, "signed-in")
    assert errors == []
