"""The dev mailbox (/dev/mail/) is never a door into someone else's account: it is off unless asked for,
opens only to platform admins or to the launcher's key on this machine, hides one-time links from the
latter, and answers 404 to everyone else."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from tests.conftest import make_user

pytestmark = pytest.mark.django_db

KEY = "launcher-key-for-tests"
RESET_LINK = re.compile(r"https?://\S+/accounts/password/reset/key/\S+/")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def mailbox(settings, tmp_path):
    """Mail kept in files and the mailbox switched on, as with `DEV_MAILBOX=1 make run`."""
    settings.EMAIL_BACKEND = "marketplace.mail.ConsoleAndFileBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    settings.DEV_MAILBOX = True
    settings.DEV_MAILBOX_KEY = KEY
    return tmp_path / "mail"


def _kept_mail(folder: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(folder.glob("*.eml")))


def _request_reset(client, email):
    response = client.post(reverse("account_reset_password"), {"email": email})
    assert response.status_code == 302


def test_the_mailbox_is_off_unless_asked_for():
    """Not even DEBUG switches it on: only DEV_MAILBOX does (the launcher no longer sets it)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DEV_MAILBOX", "DEV_MAILBOX_KEY")}
    env.update(DJANGO_DEBUG="1", EMAIL_MODE="console+file", DJANGO_SETTINGS_MODULE="marketplace.settings")
    probe = "from django.conf import settings; print(settings.DEV_MAILBOX)"
    off = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    on = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**env, "DEV_MAILBOX": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert (off.stdout.strip(), on.stdout.strip()) == ("False", "True")


def test_anonymous_visitors_get_404(client, mailbox, admin_user):
    _request_reset(client, admin_user.email)
    assert client.get(reverse("dev_mailbox")).status_code == 404


def test_signed_in_users_who_are_not_platform_admins_get_404(client, mailbox, outsider, official):
    _request_reset(client, outsider.email)
    for user in (outsider, official):
        client.force_login(user)
        assert client.get(reverse("dev_mailbox")).status_code == 404


def test_platform_admins_see_the_mail_whole_but_a_deactivated_one_gets_404(client, mailbox, admin_user):
    _request_reset(client, admin_user.email)
    link = RESET_LINK.search(_kept_mail(mailbox)).group(0)
    client.force_login(admin_user)
    response = client.get(reverse("dev_mailbox"))
    assert response.status_code == 200
    page = response.content.decode()
    assert admin_user.email in page and link in page
    assert "일회용 링크 숨김" not in page

    admin_user.is_active = False
    admin_user.save(update_fields=["is_active"])
    assert client.get(reverse("dev_mailbox")).status_code == 404


def test_the_launchers_key_opens_it_from_this_machine_only(client, mailbox):
    assert client.get(reverse("dev_mailbox"), {"key": "wrong"}).status_code == 404
    assert client.get(reverse("dev_mailbox"), {"key": KEY}, REMOTE_ADDR="203.0.113.7").status_code == 404
    response = client.get(reverse("dev_mailbox"), {"key": KEY})
    assert response.status_code == 200
    assert response["Referrer-Policy"] == "no-referrer"
    cookie = response.cookies["dev_mailbox_key"]
    assert cookie.value == KEY and cookie["httponly"] and cookie["path"] == reverse("dev_mailbox")
    # The cookie set from the printed link opens it again without the key in the address.
    assert client.get(reverse("dev_mailbox")).status_code == 200
    assert client.get(reverse("dev_mailbox"), REMOTE_ADDR="::1").status_code == 200
    assert client.get(reverse("dev_mailbox"), REMOTE_ADDR="203.0.113.7").status_code == 404
    # Through a proxy on this machine (nginx connects from 127.0.0.1) the request is not from here.
    assert client.get(reverse("dev_mailbox"), HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 404
    assert client.get(reverse("dev_mailbox"), HTTP_X_REAL_IP="203.0.113.7").status_code == 404


def test_no_key_configured_means_no_key_opens_it(client, mailbox, settings):
    settings.DEV_MAILBOX_KEY = ""
    assert client.get(reverse("dev_mailbox"), {"key": ""}).status_code == 404
    client.cookies["dev_mailbox_key"] = ""
    assert client.get(reverse("dev_mailbox")).status_code == 404


def test_after_an_anonymous_reset_request_the_link_is_not_obtainable_without_being_a_platform_admin(
    client, mailbox, admin_user
):
    """The takeover of the observation: ask a reset for the admin, then read the link at /dev/mail/."""
    _request_reset(client, admin_user.email)
    link = RESET_LINK.search(_kept_mail(mailbox)).group(0)  # the mail was sent and kept
    secret = link.rstrip("/").rsplit("/", 1)[1]

    for attempt in (
        client.get(reverse("dev_mailbox")),
        client.get(reverse("dev_mailbox"), {"key": "guess"}),
        client.get(reverse("dev_mailbox"), {"key": KEY}, REMOTE_ADDR="198.51.100.9"),
    ):
        assert attempt.status_code == 404
        assert secret not in attempt.content.decode()

    # Even the holder of the launcher's key sees that a reset mail went out, not its link.
    keyed = client.get(reverse("dev_mailbox"), {"key": KEY})
    page = keyed.content.decode()
    assert keyed.status_code == 200 and admin_user.email in page
    assert secret not in page and "/accounts/password/reset/key/" not in page
    assert "[일회용 링크 숨김]" in page


def test_one_time_links_are_recognised_and_other_links_kept():
    from marketplace.mail import hide_one_time_links

    site = "http://localhost:8000"
    secret_links = [
        site + reverse("account_reset_password_from_key", kwargs={"uidb36": "9z", "key": "cmbx-8f3e2a"}),
        site + reverse("account_confirm_email", kwargs={"key": "MTIz:1tAbCd:xyz"}),
        site + reverse("accounts:invitation", args=["s3cr3t-invitation-token"]),
        site + "/orders/ORD-1/?token=abc",
    ]
    kept_links = [
        site + reverse("catalog:index"),
        site + reverse("staff:organization", args=[7]),
    ]
    text = "\n".join(f"link: {url}." for url in secret_links + kept_links)
    shown, hidden = hide_one_time_links(text)
    assert hidden == len(secret_links)
    for url in secret_links:
        assert url not in shown
    for url in kept_links:
        assert f"{url}." in shown
    assert shown.count("link: [일회용 링크 숨김].") == len(secret_links)


def test_the_footer_links_the_mailbox_only_for_platform_admins(client, mailbox, admin_user):
    mailbox_url = reverse("dev_mailbox")
    assert mailbox_url not in client.get(reverse("home")).content.decode()
    client.force_login(make_user("second.admin@test.example", staff=True))
    assert mailbox_url in client.get(reverse("home")).content.decode()
