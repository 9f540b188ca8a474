"""The second factor (allauth.mfa): an authenticator app with recovery codes for every user, and the rule that platform
admins and organization owners must set one up (MFA_REQUIRED_FOR_STAFF).

Codes are computed by pyotp (RFC 6238, as a phone's authenticator app does), not by allauth: a code allauth would not
accept from a real app fails here. Every request goes through the real middleware, allauth's views and the database.
"""

import re
import time

import pyotp
import pytest
from allauth.core import ratelimit
from allauth.mfa.models import Authenticator
from django.test import RequestFactory, override_settings

from tests.conftest import PASSWORD

SECRET_RE = re.compile(r'id="authenticator_secret" value="([A-Z2-7]+)"')


def _sign_in(client, user):
    """The sign-in form with the password; returns the response (not followed)."""
    return client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})


def _open(client, path):
    """GET a page of the set-up; allauth first asks for the password again (re-authentication), as a user sees."""
    page = client.get(path)
    if page.status_code == 302 and page["Location"].startswith("/accounts/reauthenticate/"):
        response = client.post(page["Location"], {"password": PASSWORD})
        assert response.status_code == 302 and response["Location"] == path
        page = client.get(path)
    return page


def _activate_totp(client) -> str:
    """Set up the authenticator app from the account pages as a user does; returns the secret shown on the page."""
    page = _open(client, "/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = SECRET_RE.search(page.content.decode()).group(1)
    response = client.post("/accounts/2fa/totp/activate/", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302, response.content.decode()[:2000]
    return secret


def _next_code(secret: str) -> str:
    """The app's code of the next 30-second step (accepted with MFA_TOTP_TOLERANCE = 1): the current one was just used
    to activate, and allauth refuses a code used twice."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def _recovery_codes(client) -> list[str]:
    page = _open(client, "/accounts/2fa/recovery-codes/")
    assert page.status_code == 200
    return re.findall(r"\b(\d{8})\b", page.content.decode())


@pytest.mark.django_db
def test_a_buyer_turns_on_the_authenticator_app_and_then_signs_in_with_its_code(client, buyer):
    assert _sign_in(client, buyer)["Location"] == "/me/"
    page = client.get("/accounts/2fa/")
    assert "2단계 인증" in page.content.decode() and "인증 앱" in page.content.decode()
    client.cookies["django_language"] = "en"
    english = client.get("/accounts/2fa/").content.decode()
    assert "Two-Factor Authentication" in english and "Authenticator App" in english and "Security Keys" in english
    assert "Two-factor authentication" in client.get("/me/profile/").content.decode()  # the way there
    client.cookies["django_language"] = "ko"
    secret = _activate_totp(client)
    assert Authenticator.objects.filter(user=buyer, type=Authenticator.Type.TOTP).exists()
    # Recovery codes come with it.
    assert len(_recovery_codes(client)) == 10
    assert "켜짐" in client.get("/me/profile/").content.decode()
    client.post("/accounts/logout/")

    response = _sign_in(client, buyer)
    assert response["Location"] == "/accounts/2fa/authenticate/"
    # The password alone does not sign in.
    assert client.get("/me/").status_code == 302
    response = client.post("/accounts/2fa/authenticate/", {"code": _next_code(secret)})
    assert response.status_code == 302 and response["Location"] == "/me/"
    assert client.get("/me/").status_code == 200


@pytest.mark.django_db
def test_a_wrong_code_is_refused_in_korean_and_english_and_the_right_one_still_works(client, buyer):
    _sign_in(client, buyer)
    secret = _activate_totp(client)
    client.post("/accounts/logout/")

    _sign_in(client, buyer)
    good = _next_code(secret)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    response = client.post("/accounts/2fa/authenticate/", {"code": wrong})
    assert response.status_code == 200
    assert "올바르지 않은 코드" in response.content.decode()
    client.cookies["django_language"] = "en"
    response = client.post("/accounts/2fa/authenticate/", {"code": "000000" if good != "000000" else "111111"})
    assert "Incorrect code." in response.content.decode()
    assert client.get("/me/").status_code == 302  # still not signed in
    response = client.post("/accounts/2fa/authenticate/", {"code": good})
    assert response["Location"] == "/me/"


@pytest.mark.django_db
def test_a_recovery_code_signs_in_once(client, buyer):
    _sign_in(client, buyer)
    _activate_totp(client)
    codes = _recovery_codes(client)
    client.post("/accounts/logout/")

    _sign_in(client, buyer)
    response = client.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert response["Location"] == "/me/"
    assert client.get("/me/").status_code == 200
    assert len(_recovery_codes(client)) == 9  # the one used is gone
    client.post("/accounts/logout/")

    _sign_in(client, buyer)
    response = client.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert response.status_code == 200 and "올바르지 않은 코드" in response.content.decode()
    assert client.post("/accounts/2fa/authenticate/", {"code": codes[1]})["Location"] == "/me/"


@pytest.mark.django_db
@override_settings(MFA_REQUIRED_FOR_STAFF=True)
@pytest.mark.parametrize("who", ["admin_user", "official"])
def test_admins_and_owners_reach_nothing_but_the_set_up_until_they_have_a_second_factor(client, request, who):
    user = request.getfixturevalue(who)
    _sign_in(client, user)
    paths = ["/me/", "/catalog/", "/me/api-keys/"]
    paths += ["/staff/", "/django-admin/"] if who == "admin_user" else ["/catalog/provider/"]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == "/accounts/2fa/", path
    page = client.get("/accounts/2fa/")
    assert page.status_code == 200
    assert "2단계 인증을 설정해야 합니다" in page.content.decode()
    # A form or the API used from the session: refused with the reason, nothing done.
    assert client.post("/me/profile/", {"name": "바뀐 이름", "phone": ""}).status_code == 403
    user.refresh_from_db()
    assert user.name != "바뀐 이름"
    response = client.get("/api/v1/me/", HTTP_ACCEPT="application/json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "mfa_required"
    assert "two-factor" in response.json()["error"]["message_en"]
    assert client.get("/accounts/2fa/", HTTP_HX_REQUEST="true").status_code == 200
    assert client.get("/me/", HTTP_HX_REQUEST="true")["HX-Redirect"] == "/accounts/2fa/"

    _activate_totp(client)
    assert client.get("/me/").status_code == 200
    # They cannot take away their only factor.
    page = _open(client, "/accounts/2fa/totp/deactivate/")
    assert "보안키를 먼저 등록한 뒤에" in page.content.decode()
    client.post("/accounts/2fa/totp/deactivate/")
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    assert client.get("/me/").status_code == 200


@pytest.mark.django_db
@override_settings(MFA_REQUIRED_FOR_STAFF=True)
def test_a_buyer_and_an_anonymous_visitor_are_not_forced(client, buyer):
    assert client.get("/catalog/").status_code == 200
    _sign_in(client, buyer)
    assert client.get("/me/").status_code == 200
    assert client.get("/me/profile/").status_code == 200
    assert "꺼짐" in client.get("/me/profile/").content.decode()


@pytest.mark.django_db
@override_settings(MFA_REQUIRED_FOR_STAFF=False)
def test_with_the_setting_off_an_admin_signs_in_with_a_password_alone(client, admin_user):
    _sign_in(client, admin_user)
    assert client.get("/me/").status_code == 200
    assert client.get("/staff/").status_code in (200, 302)
    assert not client.get("/staff/").get("Location", "").startswith("/accounts/2fa")


@pytest.mark.django_db
def test_guessing_codes_is_stopped_after_five_wrong_ones(client, buyer):
    """allauth's limit on failed sign-ins (5 per user in 5 minutes) covers the second step too: a million codes cannot
    be tried. The tests run without rate limits (DISABLE_RATE_LIMITS); here they are allauth's defaults, as deployed."""
    _sign_in(client, buyer)
    secret = _activate_totp(client)
    client.post("/accounts/logout/")
    with override_settings(ACCOUNT_RATE_LIMITS={}):
        # Counts left in Redis by an earlier run of this test (same user id in a recreated database) start afresh.
        ratelimit.clear(RequestFactory().get("/"), action="login_failed", key=f"mfa-auth-user-{buyer.pk}")
        _sign_in(client, buyer)
        good = _next_code(secret)
        wrong = [f"{(int(good) + n) % 1_000_000:06d}" for n in range(1, 6)]
        for code in wrong:
            assert "올바르지 않은 코드" in client.post("/accounts/2fa/authenticate/", {"code": code}).content.decode()
        response = client.post("/accounts/2fa/authenticate/", {"code": good})
        assert response.status_code == 200 and "너무 많은 로그인 실패" in response.content.decode()
        assert client.get("/me/").status_code == 302
