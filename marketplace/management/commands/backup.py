"""manage.py backup <folder> [--previous <earlier backup>]: the database (pg_dump -Fc) and the private storage
(folder or S3 bucket) into a new folder, with a manifest. What and why: marketplace/backup.py, docs/operations.md."""

import json
from pathlib import Path

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError

from marketplace import backup


class Command(BaseCommand):
    help = "Back up the database and the private storage into a new folder (docs/operations.md)."

    def add_arguments(self, parser):
        parser.add_argument("target", type=Path, help="a new (or empty) folder")
        parser.add_argument("--previous", type=Path, help="an earlier backup: unchanged files are hard-linked")
        parser.add_argument("--database", default="default")

    def handle(self, *args, target, previous, database, **options):
        try:
            result = backup.backup_create(target, storage=default_storage, database=database, previous=previous)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        db, files = result.manifest["database"], result.manifest["storage"]
        self.stdout.write(
            f"database: {db['size']:,} bytes, sha256 {db['sha256']}, {len(db['migrations_applied'])} migrations\n"
            f"storage ({files['backend']}): {files['files']:,} files, {files['bytes']:,} bytes"
            f" ({files['linked_from_previous']:,} linked from the previous backup)\n"
            f"manifest: {result.path / backup.MANIFEST}"
        )
        if result.referenced_missing:
            self.stderr.write(
                "WARNING: files the database refers to were deleted before they could be copied "
                "(a deletion committed during the backup); listed in the manifest:\n"
                + json.dumps(result.referenced_missing[:20], ensure_ascii=False)
            )
