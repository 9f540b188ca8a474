"""A ZIP's members stored by a check whose worker dies before its commit are not orphaned (issue 19).

A real `celery -A marketplace worker` (tests/transactions/test_package_lease.py's RealWorker) checks an uploaded ZIP;
the test holds the version's row lock, so the worker, having stored the members, waits inside its transaction
(recording the member files); then the whole worker is SIGKILLed. The check's next run (claimed again once stale, as
the stale-claim rule allows) finds the copies the dead run stored and takes them: the storage holds exactly the
archive and the members the database names, nothing else."""

import io
import signal
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from catalog import services, tasks
from catalog.models import DataFile, DatasetVersion
from tests.transactions.test_package_lease import _wait, real_worker  # noqa: F401 (fixture)


def _waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_members_stored_by_a_worker_killed_before_its_commit_are_reused_by_the_next_run(
    real_worker,  # noqa: F811 (the fixture imported above)
    official,
    draft,
):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.csv", "x,y\n1,2\n3,4\n")
        zf.writestr("b.tsv", "x\ty\n5\t6\n")
    data = buffer.getvalue()
    upload = services.upload_create(actor=official, version=draft, filename="묶음.zip", length=len(data))
    upload = services.upload_append(actor=official, upload=upload, offset=0, stream=io.BytesIO(data))
    archive = upload.datafile
    folder = Path(default_storage.path(archive.file.name)).parent

    def stored():
        return sorted(p.name for p in folder.iterdir() if p.is_file())

    with transaction.atomic():
        DatasetVersion.objects.select_for_update().get(pk=draft.pk)  # the worker's commit waits for this
        proc = real_worker.start()
        _wait(lambda: len(stored()) >= 3 or None, 120, "the worker to store the members")
        _wait(lambda: _waiting_for_a_lock() or None, 60, "the worker to wait inside its transaction")
        real_worker.kill_all(proc, signal.SIGKILL)
    assert len(stored()) == 3 and not DataFile.objects.filter(parent=archive).exists()

    # The check's next run: the stale claim is taken again, as after STALE_CHECK.
    DataFile.objects.filter(pk=archive.pk).update(check_started_at=timezone.now() - timedelta(hours=4))
    assert tasks.datafile_check_task.apply(args=[archive.pk]).get() == "passed"
    members = list(DataFile.objects.filter(parent=archive).order_by("original_name"))
    assert [m.original_name for m in members] == ["a.csv", "b.tsv"]
    assert stored() == sorted([Path(archive.file.name).name, *(Path(m.file.name).name for m in members)])
    with default_storage.open(members[0].file.name, "rb") as fh:
        assert fh.read() == b"x,y\n1,2\n3,4\n"
