"""manage.py restore <backup folder>: into the (new, empty) database of DATABASE_URL and the storage of the
settings (PRIVATE_STORAGE_ROOT or the S3 bucket); `--verify-only` checks the backup's checksums and stops.
Then run `manage.py migrate` if the code is newer than the backup. Steps: docs/operations.md."""

from pathlib import Path

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from marketplace import backup


class Command(BaseCommand):
    help = "Restore a backup made by `manage.py backup` into an empty database and the storage (docs/operations.md)."

    def add_arguments(self, parser):
        parser.add_argument("source", type=Path, help="a folder written by manage.py backup")
        parser.add_argument("--database", default="default")
        parser.add_argument("--jobs", type=int, default=1, help="parallel pg_restore jobs")
        parser.add_argument("--verify-only", action="store_true", help="check the checksums, restore nothing")

    def handle(self, *args, source, database, jobs, verify_only, **options):
        try:
            if verify_only:
                manifest = backup.backup_verify(source)
                self.stdout.write(
                    f"backup of {manifest['started_at']} is intact: the dump and "
                    f"{manifest['storage']['files']:,} files match their SHA-256"
                )
                return
            outcome = backup.restore(source, storage=default_storage, db=connections[database].settings_dict, jobs=jobs)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = outcome["manifest"]
        resumed = " (restored by an earlier run: resumed)" if outcome["database_resumed"] else ""
        self.stdout.write(
            f"restored the backup of {manifest['started_at']} (app {manifest['app_version']}): database "
            f"{connections[database].settings_dict['NAME']}{resumed}, {outcome['storage']['copied']:,} files copied, "
            f"{outcome['storage']['already_there']:,} already there. Next: manage.py migrate."
        )
