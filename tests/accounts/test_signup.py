import re

import pytest
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db


def _link(body):
    return re.search(r"https?://[^\s]+/accounts/confirm-email/[^\s]+/", body).group(0)


def test_signup_verify_email_then_login(client, mailoutbox):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "new.user@company.test",
            "password1": "a-Long-pass-2026",
            "password2": "a-Long-pass-2026",
            "name": "홍길동",
            "agree_terms": "on",
            "agree_privacy": "on",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="new.user@company.test")
    assert user.name == "홍길동"
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["new.user@company.test"]

    # Unverified: login is held back until the address is confirmed.
    client.logout()
    response = client.post(reverse("account_login"), {"login": "new.user@company.test", "password": "a-Long-pass-2026"})
    assert "_auth_user_id" not in client.session
    assert len(mailoutbox) == 2  # the confirmation mail is sent again

    link = _link(mailoutbox[-1].body)
    path = link.split("testserver", 1)[-1]
    assert client.get(path).status_code == 200
    client.post(path)
    assert user.emailaddress_set.get().verified

    client.logout()
    client.post(reverse("account_login"), {"login": "new.user@company.test", "password": "a-Long-pass-2026"})
    assert client.session["_auth_user_id"] == str(user.pk)


def test_signup_requires_terms(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "x@company.test", "password1": "a-Long-pass-2026", "password2": "a-Long-pass-2026", "name": "x"},
    )
    assert response.status_code == 200
    assert not User.objects.filter(email="x@company.test").exists()


def test_password_reset_mail(client, mailoutbox):
    User.objects.create_user(email="forgot@company.test", password="a-Long-pass-2026")
    client.post(reverse("account_reset_password"), {"email": "forgot@company.test"})
    assert len(mailoutbox) == 1 and "/accounts/password/reset/key/" in mailoutbox[0].body
