"""Rebuild every catalog entry (search vector, facet keys) from its dataset: after a change of the search
document or of CATALOG_SAMPLE_LEVELS.

    manage.py catalog_reindex
"""

import time

from django.core.management.base import BaseCommand

from catalog.services import catalog_reindex


class Command(BaseCommand):
    help = "Rebuild every catalog entry (search vector and facet keys) from the datasets."

    def handle(self, *args, **options):
        t0 = time.perf_counter()
        n = catalog_reindex()
        self.stdout.write(self.style.SUCCESS(f"{n:,} catalog entries rebuilt in {time.perf_counter() - t0:.1f}s"))
