"""Build the catalog's title buckets now (catalog.services.title_buckets): after a bulk load, or to rebalance them.
A daily beat task does it by itself once the catalog is large and when it has doubled.

    manage.py catalog_title_buckets [--buckets 256]
"""

import time

from django.core.management.base import BaseCommand, CommandError

from catalog.services.title_buckets import TitleBucketsBusy, title_buckets_build


class Command(BaseCommand):
    help = "Build the title buckets of the catalog search (keys every catalog entry in short transactions)."

    def add_arguments(self, parser):
        parser.add_argument("--buckets", type=int, default=None, help="how many (default CATALOG_TITLE_BUCKETS)")

    def handle(self, *args, buckets=None, **options):
        t0 = time.perf_counter()
        try:
            built = title_buckets_build(buckets=buckets)
        except TitleBucketsBusy:
            raise CommandError("Title buckets are being built by another process; try again later.") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"title bucket set {built.pk}: {built.edges.count()} edges, {built.entries:,} entries keyed "
                f"in {time.perf_counter() - t0:.1f}s"
            )
        )
