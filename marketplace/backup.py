"""Backups and restores of a whole installation: the database (pg_dump's custom format) and the private storage
(a folder, or an S3-compatible bucket), with a manifest that says what is in the backup and how to check it.

A backup is a folder:

    manifest.json     what, when, from where: sizes, the dump's SHA-256, the app version, the applied migrations
    database.dump     `pg_dump -Fc` (restore with pg_restore; `manage.py restore` does)
    files/<name>      every object of the private storage, under its storage name
    files.sha256      one line per file, `sha256sum -c files.sha256` checks them (run it inside the backup folder)

Consistency. The database is dumped first, from a snapshot exported by a REPEATABLE READ transaction; the names of
every file the database refers to (every FileField of every model) are read from the same snapshot. The storage is
copied after the dump. Stored files are never overwritten in place (new content gets a new name) and are deleted only
after the transaction that stopped referring to them committed (transaction.on_commit), so every file the dump
refers to existed when the dump was taken; it is missing from the copy only if a deletion committed between the dump
and the copy (a package expired, a draft file removed, in those minutes). The backup checks it: such names are
listed in the manifest (`storage.referenced_missing`) and the command warns; the restored rows then point at a file
that is gone in the live system too. Files added after the dump are copied as well (unreferenced in the restored
database, harmless; an upload not finished when the dump was taken is not in it and its client starts it again).

Never through memory: files are copied in 1 MiB chunks (boto3's streaming body for S3; uploads to S3 by boto3's
managed multipart transfer from the file).

`previous`: a folder of an earlier backup; a file of the same name and size there is hard-linked instead of copied
(rsync's --link-dest; safe because a stored name never gets other bytes), so a daily backup costs the new files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import django
from django.apps import apps
from django.conf import settings
from django.db import connections, models, transaction

from core.storage import is_object_storage

CHUNK = 1024 * 1024
MANIFEST = "manifest.json"
DUMP = "database.dump"
FILES = "files"
LISTING = "files.sha256"
FORMAT = 1

# Top-level folders of a filesystem storage that are not data: unfinished resumable uploads staged on the shared
# volume (docker-compose's UPLOAD_STAGING_DIR=/app/var/private/.staging) and anything else hidden.
SKIPPED_PREFIX = "."


class BackupError(Exception):
    pass


# --- Where things are ----------------------------------------------------------------------------


def _pg_args(db: dict) -> tuple[list[str], dict]:
    """libpq options and environment for pg_dump / pg_restore / psql from a Django database settings dict."""
    args = []
    if db.get("HOST"):
        args += ["-h", str(db["HOST"])]
    if db.get("PORT"):
        args += ["-p", str(db["PORT"])]
    if db.get("USER"):
        args += ["-U", str(db["USER"])]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return args, env


def _app_version() -> str:
    if os.environ.get("APP_VERSION"):
        return os.environ["APP_VERSION"]
    try:
        out = subprocess.run(
            ["git", "-C", str(settings.BASE_DIR), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_fields() -> list[tuple[type[models.Model], str]]:
    """Every FileField of every installed model: where the database names stored files."""
    return [
        (model, f.name)
        for model in apps.get_models()
        for f in model._meta.concrete_fields
        if isinstance(f, models.FileField)
    ]


# --- Storage access: a folder or a bucket -----------------------------------------------------------


@dataclass
class StoredFile:
    name: str
    size: int


class FolderStore:
    """A FileSystemStorage's folder."""

    kind = "filesystem"

    def __init__(self, root: Path):
        self.root = Path(root)

    def describe(self) -> dict:
        return {"backend": self.kind, "location": str(self.root)}

    def list(self) -> Iterator[StoredFile]:
        if not self.root.exists():
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel_dir = Path(dirpath).relative_to(self.root)
            if rel_dir == Path("."):
                dirnames[:] = [d for d in dirnames if not d.startswith(SKIPPED_PREFIX)]
            dirnames.sort()
            for filename in sorted(filenames):
                if filename.startswith(SKIPPED_PREFIX) and rel_dir == Path("."):
                    continue
                path = Path(dirpath) / filename
                if path.is_file():
                    yield StoredFile((rel_dir / filename).as_posix(), path.stat().st_size)

    def open_read(self, name: str):
        return open(self.root / name, "rb")

    def exists_with_size(self, name: str, size: int) -> bool:
        path = self.root / name
        return path.is_file() and path.stat().st_size == size

    def put(self, name: str, source: Path) -> None:
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.restoring")
        with open(source, "rb") as src, open(partial, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
        os.replace(partial, target)


class BucketStore:
    """django-storages' S3Storage: its bucket and location (prefix), through boto3."""

    kind = "s3"

    def __init__(self, storage):
        self.client = storage.connection.meta.client
        self.bucket = storage.bucket_name
        location = (storage.location or "").strip("/")
        self.prefix = f"{location}/" if location else ""
        self._sizes: dict[str, int] | None = None

    def describe(self) -> dict:
        return {"backend": self.kind, "bucket": self.bucket, "prefix": self.prefix}

    def list(self) -> Iterator[StoredFile]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                name = obj["Key"][len(self.prefix) :]
                if name and not name.endswith("/"):
                    yield StoredFile(name, obj["Size"])

    def open_read(self, name: str):
        from botocore.exceptions import ClientError  # botocore only where S3 is configured

        try:
            return _BodyReader(self.client.get_object(Bucket=self.bucket, Key=self.prefix + name)["Body"])
        except ClientError as exc:
            # Deleted since the listing: FileNotFoundError, as a folder's open() says it (_copy_storage skips it).
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(f"{name} is not in the bucket") from exc
            raise

    def exists_with_size(self, name: str, size: int) -> bool:
        if self._sizes is None:
            self._sizes = {f.name: f.size for f in self.list()}
        return self._sizes.get(name) == size

    def put(self, name: str, source: Path) -> None:
        from boto3.s3.transfer import TransferConfig  # boto3 only where S3 is configured

        config = TransferConfig(multipart_threshold=8 * CHUNK, multipart_chunksize=8 * CHUNK, max_concurrency=4)
        with open(source, "rb") as fh:
            self.client.upload_fileobj(fh, self.bucket, self.prefix + name, Config=config)


class _BodyReader:
    """botocore's StreamingBody as a closable file: read(n) pulls n bytes from the socket."""

    def __init__(self, body):
        self.body = body

    def read(self, n: int = CHUNK) -> bytes:
        return self.body.read(n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.body.close()


def store_for(storage) -> FolderStore | BucketStore:
    """The backup's view of a Django storage (default_storage, or one built for a restore)."""
    if is_object_storage(storage):
        return BucketStore(storage)
    location = getattr(storage, "location", None)
    if location is None:
        raise BackupError(f"cannot back up a storage of type {type(storage).__name__}")
    return FolderStore(Path(location))


# --- Backup ------------------------------------------------------------------------------------------


@dataclass
class BackupResult:
    path: Path
    manifest: dict
    referenced_missing: list[str] = field(default_factory=list)


def _dump_database(alias: str, dump_path: Path, names_path: Path) -> dict:
    """pg_dump from a snapshot exported by our own REPEATABLE READ transaction; the referenced file names and the
    applied migrations are read from that same snapshot (written to names_path, one a line)."""
    conn = connections[alias]
    db = conn.settings_dict
    args, env = _pg_args(db)
    started = time.monotonic()
    with transaction.atomic(using=alias):
        with conn.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            snapshot, server_version = cursor.fetchone()
            cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
            migrations = [f"{app}.{name}" for app, name in cursor.fetchall()]
        # pg_dump imports the snapshot when it starts; our transaction stays open until it has finished.
        dump = subprocess.run(
            ["pg_dump", *args, "-Fc", "--no-owner", "--snapshot", snapshot, "-f", str(dump_path), "-d", db["NAME"]],
            env=env,
            capture_output=True,
            text=True,
        )
        if dump.returncode != 0:
            raise BackupError(f"pg_dump failed: {dump.stderr.strip()[-2000:]}")
        count = 0
        with open(names_path, "w", encoding="utf-8") as out:
            for model, name in file_fields():
                names = model._base_manager.using(alias).exclude(**{name: ""}).exclude(**{f"{name}__isnull": True})
                for value in names.values_list(name, flat=True).iterator(chunk_size=5000):
                    out.write(value + "\n")
                    count += 1
    version = subprocess.run(["pg_dump", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "file": DUMP,
        "size": dump_path.stat().st_size,
        "sha256": _sha256_file(dump_path),
        "name": db["NAME"],
        "server_version": server_version,
        "pg_dump": version,
        "seconds": round(time.monotonic() - started, 2),
        "migrations_applied": migrations,
        "referenced_files": count,
    }


def _copy_stream(src, dst_path: Path) -> str:
    digest = hashlib.sha256()
    dst_path.parent.mkdir(parents=True, exist_ok=True)
    with src, open(dst_path, "wb") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
    return digest.hexdigest()


def _previous_listing(previous: Path | None) -> dict[str, str]:
    if previous is None or not (previous / LISTING).exists():
        return {}
    found = {}
    with open(previous / LISTING, encoding="utf-8") as fh:
        for line in fh:
            digest, _, path = line.rstrip("\n").partition("  ")
            found[path.removeprefix(f"{FILES}/")] = digest
    return found


def _copy_storage(store, target: Path, previous: Path | None) -> dict:
    files_dir = target / FILES
    files_dir.mkdir()
    earlier = _previous_listing(previous)
    count = total = linked = 0
    started = time.monotonic()
    with open(target / LISTING, "w", encoding="utf-8") as listing:
        for stored in store.list():
            dst = files_dir / stored.name
            old = previous / FILES / stored.name if previous else None
            if old is not None and stored.name in earlier and old.is_file() and old.stat().st_size == stored.size:
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.link(old, dst)
                digest = earlier[stored.name]
                linked += 1
            else:
                try:
                    digest = _copy_stream(store.open_read(stored.name), dst)
                except FileNotFoundError:
                    continue  # deleted between the listing and the copy: not referenced by the dump (module doc)
            listing.write(f"{digest}  {FILES}/{stored.name}\n")
            count += 1
            total += dst.stat().st_size
    return {
        **store.describe(),
        "files": count,
        "bytes": total,
        "linked_from_previous": linked,
        "listing": LISTING,
        "seconds": round(time.monotonic() - started, 2),
    }


def backup_create(target: Path, *, storage, database: str = "default", previous: Path | None = None) -> BackupResult:
    """Write a backup of `database` and `storage` into the folder `target` (must not exist or be empty)."""
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: back up into a new folder")
    target.mkdir(parents=True, exist_ok=True)
    if previous is not None and not Path(previous).exists():
        previous = None  # the first run of a nightly job (`--previous <yesterday>`): copy everything
    if previous is not None and not (Path(previous) / MANIFEST).exists():
        raise BackupError(f"{previous} is not a backup (no {MANIFEST})")
    started_at = datetime.now(UTC)
    store = store_for(storage)
    with tempfile.TemporaryDirectory(prefix="backup-names-") as scratch:
        names_path = Path(scratch) / "referenced.txt"
        db_part = _dump_database(database, target / DUMP, names_path)
        storage_part = _copy_storage(store, target, Path(previous) if previous else None)
        missing = []
        with open(names_path, encoding="utf-8") as fh:
            for line in fh:
                name = line.rstrip("\n")
                if not (target / FILES / name).is_file():
                    missing.append(name)
    storage_part["referenced_missing"] = missing
    manifest = {
        "format": FORMAT,
        "started_at": started_at.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "app_version": _app_version(),
        "previous": str(previous) if previous else None,
        "django": django.get_version(),
        "database": db_part,
        "storage": storage_part,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return BackupResult(path=target, manifest=manifest, referenced_missing=missing)


# --- Verify and restore ----------------------------------------------------------------------------------


def read_manifest(source: Path) -> dict:
    path = Path(source) / MANIFEST
    if not path.exists():
        raise BackupError(f"{source} is not a backup (no {MANIFEST})")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    return manifest


def _listing(source: Path) -> Iterator[tuple[str, str]]:
    with open(Path(source) / LISTING, encoding="utf-8") as fh:
        for line in fh:
            digest, _, path = line.rstrip("\n").partition("  ")
            yield path.removeprefix(f"{FILES}/"), digest


def backup_verify(source: Path) -> dict:
    """Check the dump's SHA-256 and every file's against the manifest and listing. Raises BackupError."""
    source = Path(source)
    manifest = read_manifest(source)
    if _sha256_file(source / DUMP) != manifest["database"]["sha256"]:
        raise BackupError(f"{DUMP} does not match the SHA-256 in the manifest: the backup is damaged")
    count = 0
    for name, digest in _listing(source):
        if _sha256_file(source / FILES / name) != digest:
            raise BackupError(f"{FILES}/{name} does not match its SHA-256: the backup is damaged")
        count += 1
    if count != manifest["storage"]["files"]:
        raise BackupError(f"{LISTING} lists {count} files, the manifest {manifest['storage']['files']}")
    return manifest


def _psql(db: dict, sql: str) -> str:
    args, env = _pg_args(db)
    out = subprocess.run(["psql", *args, "-d", db["NAME"], "-Atc", sql], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise BackupError(f"cannot read database {db['NAME']}: {out.stderr.strip()[-1000:]}")
    return out.stdout.strip()


def _database_is_empty(db: dict) -> bool:
    return _psql(db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0"


def _restored_marker(manifest: dict) -> str:
    """The database's comment once this backup's dump is in it whole: a restore run again knows its own database."""
    return f"manage.py restore: database.dump sha256 {manifest['database']['sha256']}"


def _database_comment(db: dict) -> str:
    return _psql(
        db,
        "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = current_database()",
    )


def _mark_restored(db: dict, marker: str) -> None:
    # The marker is our own text and a hex digest (no quote in it); %I quotes the database's name.
    _psql(db, f"DO $$BEGIN EXECUTE format('COMMENT ON DATABASE %I IS %L', current_database(), '{marker}'); END$$")


def restore_database(source: Path, db: dict, *, jobs: int = 1) -> None:
    """pg_restore the backup's dump into the database `db` (a Django settings dict), which must be empty."""
    if not _database_is_empty(db):
        raise BackupError(
            f"database {db['NAME']} is not empty: restore into a new database (createdb); after a pg_restore that "
            "failed, drop the database and create it again"
        )
    args, env = _pg_args(db)
    out = subprocess.run(
        [
            "pg_restore",
            *args,
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--jobs",
            str(jobs),
            "-d",
            db["NAME"],
            str(Path(source) / DUMP),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise BackupError(f"pg_restore failed: {out.stderr.strip()[-2000:]}")


def restore_storage(source: Path, storage) -> dict:
    """Copy the backup's files into `storage` (a folder or a bucket), checking each file's SHA-256 first. A file
    already there with the same size is left (stored names never get other bytes), so a broken restore resumes."""
    store = store_for(storage)
    copied = skipped = 0
    for name, digest in _listing(source):
        path = Path(source) / FILES / name
        if _sha256_file(path) != digest:
            raise BackupError(f"{FILES}/{name} does not match its SHA-256: the backup is damaged")
        if store.exists_with_size(name, path.stat().st_size):
            skipped += 1
            continue
        store.put(name, path)
        copied += 1
    return {"copied": copied, "already_there": skipped}


def restore(source: Path, *, storage, db: dict, jobs: int = 1) -> dict:
    """Check the backup, then restore its database into `db` (empty) and its files into `storage`.

    Run again after the file copy stopped, it resumes: the database is marked (its comment) once the dump is in it
    whole, so the same backup skips the database part; any other non-empty database is refused."""
    manifest = read_manifest(source)
    if _sha256_file(Path(source) / DUMP) != manifest["database"]["sha256"]:
        raise BackupError(f"{DUMP} does not match the SHA-256 in the manifest: the backup is damaged")
    marker = _restored_marker(manifest)
    resumed = _database_comment(db) == marker and not _database_is_empty(db)
    if not resumed:
        restore_database(source, db, jobs=jobs)
        _mark_restored(db, marker)
    files = restore_storage(source, storage)
    return {"manifest": manifest, "storage": files, "database_resumed": resumed}
