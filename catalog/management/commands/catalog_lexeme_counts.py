"""Count how common each Hangul lexeme of the catalog is now (catalog.lexemes): after a bulk load. A daily beat task
does it by itself, and a search that finds the counts stale asks for it.

    manage.py catalog_lexeme_counts
"""

import time

from django.core.management.base import BaseCommand

from catalog.lexemes import lexeme_frequencies_count


class Command(BaseCommand):
    help = "Count the Hangul lexemes of a sample of the catalog (which sample a search reads first)."

    def handle(self, *args, **options):
        t0 = time.perf_counter()
        counted = lexeme_frequencies_count()
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(counted.counts):,} lexemes seen at least {counted.floor} times in the 1-in-{counted.modulus} "
                f"sample of {counted.entries:,} entries, in {time.perf_counter() - t0:.1f}s"
            )
        )
