"""Backups and restores (marketplace/backup.py, manage.py backup / restore, docs/operations.md): a published dataset
and a bought, built package are backed up (pg_dump -Fc + the private storage), restored into a NEW database and a new
storage folder, and a gunicorn serving the restored copy shows the dataset page and delivers the package with the
same SHA-256. The S3 case copies a bucket (moto's server) into the backup and back into another bucket."""

import hashlib
import io
import json
import os
import subprocess
import uuid
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import psycopg2
import pytest
from django.conf import settings as django_settings
from django.core.files import storage
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from bench.webserver import free_port, start_gunicorn, stop
from catalog.models import DataFile
from marketplace import backup
from tests.s3 import REGION, make_bucket, s3_client, s3_server, s3_storage  # noqa: F401 - fixtures
from tests.transactions.conftest import offer_of, parked_package_builds, place_order, publish_dataset  # noqa: F401
from transactions.delivery import services as delivery_services
from transactions.models import Package
from transactions.tasks import build_package

pytestmark = pytest.mark.django_db(transaction=True)

CSV = "측정소명,측정일시,미세먼지\n" + "".join(
    f"정왕동,2024-06-{1 + i % 28:02d} {i % 24:02d}:00,{i % 97}\n" for i in range(3000)
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _admin():
    params = dict(connection.get_connection_params())
    params["dbname"] = "postgres"
    conn = psycopg2.connect(**params)
    conn.autocommit = True
    return conn


@pytest.fixture
def fresh_database():
    """An empty database of its own (createdb), dropped at the end whatever happened; yields its name."""
    name = f"{connection.settings_dict['NAME']}_restore_{uuid.uuid4().hex[:8]}"
    admin = _admin()
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _database_url(name: str) -> str:
    url = urlsplit(os.environ.get("DATABASE_URL") or django_settings.DATABASE_URL)
    return urlunsplit(url._replace(path="/" + quote(name)))


@pytest.fixture
def bought_package(official, admin_user, buyer, reference_data, parked_package_builds):
    """A dataset published through the real services, taken free by the buyer, its package built by the real task."""
    dataset = publish_dataset(official, admin_user, title_ko="시흥시 백업 검증 대기질", csv_text=CSV)
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package = Package.objects.get(entitlement__order_item__order=order)
    assert build_package.apply(args=[package.pk]).get() == "ready"
    package.refresh_from_db()
    return package


def test_a_backup_restored_into_a_new_database_serves_the_dataset_and_the_bought_package(
    bought_package, buyer, fresh_database, tmp_path
):
    package = bought_package
    dataset = package.version.dataset
    with storage.default_storage.open(package.file.name, "rb") as fh:
        original = fh.read()
    assert _sha(original) == package.sha256
    link = delivery_services.download_link(user=buyer, package=package)

    result = backup.backup_create(tmp_path / "backup", storage=storage.default_storage)
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == result.manifest
    dump = (tmp_path / "backup" / "database.dump").read_bytes()
    assert manifest["database"]["sha256"] == _sha(dump) and manifest["database"]["size"] == len(dump)
    assert "transactions.0001_initial" in manifest["database"]["migrations_applied"]
    assert manifest["storage"]["referenced_missing"] == []
    listing = (tmp_path / "backup" / "files.sha256").read_text(encoding="utf-8")
    assert f"{package.sha256}  files/{package.file.name}\n" in listing
    # The live system goes on: its copy of the package disappears. The restored one must not need it.
    storage.default_storage.delete(package.file.name)

    restored_root = tmp_path / "restored-private"
    outcome = backup.restore(
        tmp_path / "backup",
        storage=FileSystemStorage(location=restored_root),
        db={**connection.settings_dict, "NAME": fresh_database},
    )
    assert outcome["storage"]["copied"] == manifest["storage"]["files"]

    port = free_port()
    web = start_gunicorn(
        port,
        env={
            "DATABASE_URL": _database_url(fresh_database),
            "STORAGE_BACKEND": "filesystem",
            "PRIVATE_STORAGE_ROOT": str(restored_root),
            "VAR_DIR": str(tmp_path / "var"),
            "DJANGO_SECRET_KEY": django_settings.SECRET_KEY,  # the download link was signed with it
            "CACHE_KEY_PREFIX": f"restore-{uuid.uuid4().hex[:8]}",  # nothing cached from the live database
            "CELERY_TASK_DEFAULT_QUEUE": f"restore-parked-{port}",
            "EMAIL_MODE": "locmem",
        },
        workers=1,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        page = httpx.get(base + reverse("catalog:dataset", args=[dataset.slug]), timeout=60)
        assert page.status_code == 200
        assert "시흥시 백업 검증 대기질" in page.text
        download = httpx.get(base + link, timeout=60)
        assert download.status_code == 200, download.text[:500]
        assert _sha(download.content) == package.sha256 == _sha(original)
    finally:
        stop(web)


def test_a_file_deleted_between_the_dump_and_the_copy_is_reported(official, admin_user, reference_data, tmp_path):
    """The database still names a file the storage no longer has (a deletion committed during the backup): the
    manifest lists it and the command warns, rather than a backup that looks whole."""
    dataset = publish_dataset(official, admin_user, title_ko="누락 점검", csv_text=CSV)
    datafile = DataFile.objects.get(version__dataset=dataset)
    storage.default_storage.delete(datafile.file.name)

    result = backup.backup_create(tmp_path / "b", storage=storage.default_storage)
    assert result.manifest["storage"]["referenced_missing"] == [datafile.file.name]

    err = _capture_command("backup", str(tmp_path / "b2"))
    assert "WARNING" in err and datafile.file.name in err


def _capture_command(*args) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_restore_refuses_a_database_that_is_not_empty_and_verify_finds_damage(official, tmp_path):
    storage.default_storage.save(f"backup-test/{uuid.uuid4().hex}.bin", ContentFile(b"x" * 5000))
    call_command("backup", str(tmp_path / "b"), stdout=open(os.devnull, "w"))
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore_database(tmp_path / "b", connection.settings_dict)  # the live (test) database itself
    with pytest.raises(CommandError, match="not empty"):
        call_command("backup", str(tmp_path / "b"))  # never over an earlier backup

    assert "intact" in _capture_command("restore", str(tmp_path / "b"), "--verify-only")
    victim = next(p for p in (tmp_path / "b" / "files").rglob("*") if p.is_file())
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(CommandError, match="damaged"):
        call_command("restore", str(tmp_path / "b"), "--verify-only")


def test_an_s3_bucket_is_backed_up_and_restored_into_another_bucket(s3_server, s3_storage, official, tmp_path):  # noqa: F811
    big = os.urandom(2 * 1024 * 1024 + 12345)  # more than one 1 MiB chunk
    names = {
        storage.default_storage.save("packages/큰-파일.zip", ContentFile(big)): big,
        storage.default_storage.save(
            "datafiles/작은.csv", ContentFile("가,나\n1,2\n".encode())
        ): "가,나\n1,2\n".encode(),
    }
    result = backup.backup_create(tmp_path / "b1", storage=storage.default_storage)
    assert result.manifest["storage"]["backend"] == "s3"
    assert result.manifest["storage"]["files"] == 2
    for name, data in names.items():
        assert (tmp_path / "b1" / "files" / name).read_bytes() == data

    # The next day's backup links what did not change instead of copying it again.
    second = backup.backup_create(tmp_path / "b2", storage=storage.default_storage, previous=tmp_path / "b1")
    assert second.manifest["storage"]["linked_from_previous"] == 2
    for name in names:
        assert (tmp_path / "b2" / "files" / name).stat().st_ino == (tmp_path / "b1" / "files" / name).stat().st_ino
    first_night = backup.backup_create(tmp_path / "b3", storage=storage.default_storage, previous=tmp_path / "none")
    assert (first_night.manifest["storage"]["linked_from_previous"], first_night.manifest["storage"]["files"]) == (0, 2)

    from storages.backends.s3 import S3Storage  # the S3 tests alone need it

    other = make_bucket(s3_server)
    target = S3Storage(
        bucket_name=other,
        endpoint_url=s3_server,
        region_name=REGION,
        access_key="testing-access-key",
        secret_key="testing-secret-key",
        addressing_style="path",
        location="restored",
    )
    assert backup.restore_storage(tmp_path / "b2", target) == {"copied": 2, "already_there": 0}
    assert backup.restore_storage(tmp_path / "b2", target) == {"copied": 0, "already_there": 2}  # resumable
    client = s3_client(s3_server)
    for name, data in names.items():
        assert client.get_object(Bucket=other, Key=f"restored/{name}")["Body"].read() == data


def test_backup_module_reads_every_file_field():
    """A FileField added to a model later is covered without touching the backup (it reads them all)."""
    fields = {(model._meta.label, name) for model, name in backup.file_fields()}
    assert {("catalog.DataFile", "file"), ("transactions.Package", "file")} <= fields


def test_backup_file_listing_is_checkable_with_sha256sum(tmp_path, official):
    storage.default_storage.save(f"backup-test/{uuid.uuid4().hex}.txt", ContentFile("한글 내용".encode()))
    backup.backup_create(tmp_path / "b", storage=storage.default_storage)
    check = subprocess.run(["sha256sum", "--quiet", "-c", "files.sha256"], cwd=tmp_path / "b", capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    listing = tmp_path / "b" / "files.sha256"
    listing.write_text("0" * 64 + listing.read_text(encoding="utf-8")[64:], encoding="utf-8")  # a wrong digest
    assert subprocess.run(["sha256sum", "--quiet", "-c", "files.sha256"], cwd=tmp_path / "b").returncode != 0


def test_an_object_deleted_from_the_bucket_while_the_backup_copies_it_is_skipped(
    s3_server, s3_storage, official, tmp_path
):  # noqa: F811
    """S3 as a folder: a file deleted between the listing and its copy (a package expired meanwhile) is left out,
    not the end of the whole backup (GetObject's NoSuchKey is the folder's FileNotFoundError)."""
    kept = storage.default_storage.save("packages/남는.zip", ContentFile(b"k" * 3000))
    gone = storage.default_storage.save("packages/지워지는.zip", ContentFile(b"g" * 3000))
    client = storage.default_storage.connection.meta.client  # the client the backup reads with

    def delete_first(params, **kwargs):  # another process deletes it just before our GET
        if params["Key"].endswith(gone):
            s3_client(s3_server).delete_object(Bucket=s3_storage, Key=params["Key"])

    client.meta.events.register("before-parameter-build.s3.GetObject", delete_first)
    try:
        result = backup.backup_create(tmp_path / "b", storage=storage.default_storage)
    finally:
        client.meta.events.unregister("before-parameter-build.s3.GetObject", delete_first)
    assert result.manifest["storage"]["files"] == 1
    assert (tmp_path / "b" / "files" / kept).read_bytes() == b"k" * 3000
    assert not (tmp_path / "b" / "files" / gone).exists()
    assert f"files/{gone}" not in (tmp_path / "b" / "files.sha256").read_text(encoding="utf-8")


def test_a_restore_cut_off_while_copying_the_files_resumes_when_run_again(official, fresh_database, tmp_path):
    """The database part finished, the file copy stopped (disk full, a killed container): running the same restore
    again copies the rest (docs/operations.md says it resumes), it does not refuse its own database as 'not empty';
    a different backup is still refused."""
    name = storage.default_storage.save(f"backup-test/{uuid.uuid4().hex}.bin", ContentFile(b"r" * 5000))
    backup.backup_create(tmp_path / "b", storage=storage.default_storage)
    target_root = tmp_path / "restored"
    blocker = target_root / "backup-test"
    blocker.parent.mkdir()
    blocker.write_bytes(b"")  # a file where a folder must go: the copy fails after the database was restored
    db = {**connection.settings_dict, "NAME": fresh_database}
    with pytest.raises(OSError):
        backup.restore(tmp_path / "b", storage=FileSystemStorage(location=target_root), db=db)

    blocker.unlink()
    outcome = backup.restore(tmp_path / "b", storage=FileSystemStorage(location=target_root), db=db)
    assert outcome["storage"]["copied"] >= 1
    assert (target_root / name).read_bytes() == b"r" * 5000

    call_command("backup", str(tmp_path / "other"), stdout=open(os.devnull, "w"))
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore(tmp_path / "other", storage=FileSystemStorage(location=target_root), db=db)
