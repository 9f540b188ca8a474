"""The browser uploader itself finishes an upload whose join failed while a lease was still held (issue 19).

A web process killed in the middle of the last piece's join leaves the upload's lease held until it expires (at
most UPLOAD_LEASE_SECONDS) and the offset where the last piece began. tus-js-client retries by itself (HEAD, then
the last piece again), and each try is answered 409 ("busy") until that lease expires: the uploader's retries must
last longer than a lease, or it gives up and shows "failed" for a file the server could have taken a moment later.
"""

import hashlib
import re
import uuid
from datetime import timedelta

import pytest
from django.core.files.storage import FileSystemStorage
from django.utils import timezone
from playwright.sync_api import expect

from catalog.models import DataFile, Upload
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class _DyingJoinStorage(FileSystemStorage):
    """The file system storage; the first open of a staged piece for the join acts as a web process killed there:
    the lease stays held by a request that is gone (here: a token nobody has, live for most of a lease) and the
    request fails."""

    died = False

    def open(self, name, mode="rb"):
        if name.startswith("staging/") and not _DyingJoinStorage.died:
            _DyingJoinStorage.died = True
            Upload.objects.update(
                lease=uuid.uuid4(),
                lease_expires_at=timezone.now() + timedelta(seconds=self.lease_seconds),  # at worst: a whole one
            )
            raise OSError("the web process died here")
        return super().open(name, mode)


def test_a_join_that_died_holding_the_lease_is_finished_by_the_browser_itself(
    live_server, page, official, draft, tmp_path, settings
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}._DyingJoinStorage", "OPTIONS": {"location": str(tmp_path / "s")}},
    }
    settings.UPLOAD_LEASE_SECONDS = 30  # (the page tells the uploader; 60 by default)
    _DyingJoinStorage.died = False
    _DyingJoinStorage.lease_seconds = settings.UPLOAD_LEASE_SECONDS
    source = tmp_path / "대기질.csv"
    source.write_bytes(b"a,b\n" + b"".join(f"{i},{i * 2}\n".encode() for i in range(20_000)))

    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("#id_login").fill(official.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/me/"))
    page.goto(f"{live_server.url}/catalog/provider/versions/{draft.pk}/")
    page.locator("#upload-input").set_input_files(str(source))

    item = page.locator("#upload-list li").first
    expect(item).to_have_class(re.compile(r"is-done|is-error"), timeout=(3 * settings.UPLOAD_LEASE_SECONDS) * 1000)
    assert _DyingJoinStorage.died
    expect(item).to_have_class(re.compile(r"is-done"))
    datafile = DataFile.objects.get()
    assert datafile.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert Upload.objects.get().state == Upload.State.COMPLETE
