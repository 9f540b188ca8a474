import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

ROOT = Path(settings.BASE_DIR)


@pytest.mark.django_db
def test_home_is_korean_by_default_and_english_on_request(client):
    ko = client.get(reverse("home"))
    assert ko.status_code == 200
    html = ko.content.decode()
    assert '<html lang="ko"' in html and "데이터거래소" in html
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    en = client.get(reverse("home")).content.decode()
    assert '<html lang="en"' in en and "Data Exchange" in en


@pytest.mark.django_db
def test_korean_even_for_english_browsers_until_english_is_chosen(client):
    page = client.get(reverse("home"), headers={"Accept-Language": "en-US,en;q=0.9"}).content.decode()
    assert '<html lang="ko"' in page
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert '<html lang="en"' in client.get(reverse("home")).content.decode()


def test_translation_catalogues_are_complete():
    """Every msgid has a Korean and an English translation, none fuzzy (scripts/compile_translations.py)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compile_translations.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (ROOT / "locale" / "ko" / "LC_MESSAGES" / "django.po").exists()


def test_production_static_build_succeeds(tmp_path, settings):
    """collectstatic with the manifest storage used in production (catches broken CSS references)."""
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    manifest = (tmp_path / "staticfiles.json").read_text()
    assert "vendor/krds/css/component/output.css" in manifest
    assert not list(tmp_path.rglob("component.css"))


@pytest.mark.django_db
def test_security_headers(client):
    response = client.get(reverse("home"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp and "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_dev_mailbox_only_when_mail_is_kept_in_files(client, settings):
    settings.DEV_MAILBOX = False
    assert client.get(reverse("dev_mailbox")).status_code == 404


def test_one_date_format_and_one_date_time_format_per_language():
    """Long and short dates read the same on a page (Django's defaults mixed "2026-12-5", "12/05/2026",
    "Dec. 5, 2026" and "12:56 오후")."""
    from datetime import datetime

    from django.utils import formats, translation

    moment = datetime(2026, 12, 5, 14, 7)
    for language, date, date_time in (
        ("ko", "2026-12-05", "2026-12-05 14:07"),
        ("en", "5 Dec 2026", "5 Dec 2026, 14:07"),
    ):
        with translation.override(language):
            assert {formats.date_format(moment, name) for name in ("DATE_FORMAT", "SHORT_DATE_FORMAT")} == {date}
            assert {formats.date_format(moment, name) for name in ("DATETIME_FORMAT", "SHORT_DATETIME_FORMAT")} == {
                date_time
            }
