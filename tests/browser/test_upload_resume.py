"""A reload in the middle of an upload: choosing the same file again continues where it stopped,
and the stored file is byte-for-byte the original (same SHA-256)."""

import hashlib
import os
import re

import pytest
from playwright.sync_api import expect

from catalog.models import DataFile, Upload
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_reload_mid_upload_resumes(live_server, page, official, draft, tmp_path, shot):
    base = live_server.url
    source = tmp_path / "측정자료.csv"
    source.write_bytes(
        "측정소명,값\n".encode("cp949")
        + b"".join(f"site{i},{i}\n".encode() for i in range(10))
        + os.urandom(6 * 1024 * 1024)
    )

    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill(official.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/me/"))

    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    # About 1 MB/s up: the 6 MB file takes several seconds, long enough to reload in the middle.
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 1024 * 1024},
    )
    page.goto(f"{base}/catalog/provider/versions/{draft.pk}/")
    page.locator("#upload-input").set_input_files(str(source))
    page.wait_for_function(
        "() => { const b = document.querySelector('#upload-list [role=progressbar]');"
        " return b && Number(b.getAttribute('aria-valuenow')) >= 20; }",
        timeout=30_000,
    )
    shot(page, "before-reload")
    page.reload()

    upload = Upload.objects.get()
    for _ in range(50):  # the server keeps the bytes that arrived before the connection dropped
        upload.refresh_from_db()
        if upload.offset > 0:
            break
        page.wait_for_timeout(100)
    kept = upload.offset
    assert 0 < kept < upload.length

    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    page.locator("#upload-input").set_input_files(str(source))
    expect(page.locator("#upload-list [data-status]").first).to_contain_text(re.compile(r"\d+\s?%"), timeout=10_000)
    progress = page.locator("#upload-list [role=progressbar]").first
    expect(progress).to_have_attribute("aria-valuenow", "100", timeout=30_000)
    shot(page, "resumed-and-done")

    assert Upload.objects.count() == 1  # the same upload continued; no second one was started
    datafile = DataFile.objects.get()
    assert datafile.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
