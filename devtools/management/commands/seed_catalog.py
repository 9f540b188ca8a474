"""Seed a synthetic catalog of published datasets for load tests and benchmarks (devtools/seed/catalog.py).

manage.py seed_catalog --n 100000 [--seed 1] [--files] [--workers 2] [--force]
manage.py seed_catalog --clear             # remove everything seeded before
manage.py seed_catalog --clear --n 1000    # … and seed again
"""

import signal

from django.core.management.base import BaseCommand, CommandError

from devtools.seed import catalog as seeding


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Seed N synthetic published datasets (publishers with slugs starting 'seed-'), or --clear them."

    def add_arguments(self, parser):
        parser.add_argument("--n", type=int, default=0, help="how many datasets to publish")
        parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same data)")
        parser.add_argument(
            "--files",
            action="store_true",
            help="give a sample of datasets full file check reports (profile and preview)",
        )
        parser.add_argument("--files-ratio", type=float, default=0.05, help="the sample for --files (default 0.05)")
        parser.add_argument("--batch-size", type=int, default=10_000)
        parser.add_argument(
            "--workers",
            type=int,
            default=2,
            help="loader processes, each generating and loading batches over its own connection "
            "(0: all in this process)",
        )
        parser.add_argument(
            "--keep-indexes",
            action="store_true",
            help="maintain the catalog indexes row by row instead of rebuilding them after a large load",
        )
        parser.add_argument("--clear", action="store_true", help="remove previously seeded data first")
        parser.add_argument("--force", action="store_true", help="seed even though the database holds real datasets")

    def handle(self, *args, **options):
        # SIGTERM (kill, a CI timeout) unwinds like Ctrl-C: the loaders stop and dropped indexes are rebuilt.
        signal.signal(signal.SIGTERM, _interrupt)
        n = options["n"]
        if not options["clear"] and n <= 0:
            raise CommandError("Say how many datasets to seed (--n 100000), or --clear.")
        if options["clear"]:
            self.stdout.write("removing seeded data…")
            counts = seeding.clear(log=self.stdout.write)
            self.stdout.write(
                f"removed {counts.get('datasets', 0):,} datasets and {counts.get('organizations', 0)} organizations"
            )
        if n <= 0:
            return
        counts = seeding.seeded_counts()
        if counts["real_datasets"] and not options["force"]:
            raise CommandError(
                f"This database holds {counts['real_datasets']:,} real (not seeded) datasets. Seeding would mix "
                "synthetic datasets into a real catalog; use a database of its own, or --force."
            )
        self.stdout.write(f"seeding {n:,} datasets (seed {options['seed']}, {counts['datasets']:,} seeded before)…")
        try:
            result = seeding.seed(
                n,
                seed=options["seed"],
                files_ratio=options["files_ratio"] if options["files"] else 0.0,
                batch_size=options["batch_size"],
                workers=options["workers"],
                defer_indexes=False if options["keep_indexes"] else None,
                log=self.stdout.write,
            )
        except seeding.SeedError as exc:
            raise CommandError(str(exc)) from exc
        except KeyboardInterrupt:
            raise CommandError(
                "Interrupted. The batches loaded so far stay (each is committed whole); the catalog indexes were "
                "rebuilt. `seed_catalog --clear` removes every seeded dataset."
            ) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"seeded {n:,} datasets ({result.rows['offers']:,} offers, {result.rows['datafiles']:,} files) in "
                f"{result.seconds:.1f}s: {result.rows_per_second:,.0f} rows/s "
                f"(summed over loaders: generate {result.generate_seconds:.1f}s, load {result.load_seconds:.1f}s; "
                f"indexes {result.index_seconds:.1f}s, vacuum analyze {result.vacuum_seconds:.1f}s)"
            )
        )
        db_cpu = f"{result.db_cpu_seconds:.1f}s" if result.db_cpu_seconds is not None else "not measurable"
        self.stdout.write(
            f"CPU while loading: loaders {result.python_cpu_seconds:.1f}s, their PostgreSQL backends {db_cpu} "
            f"({(result.python_cpu_seconds + (result.db_cpu_seconds or 0)) / n * 1e6:,.0f} µs per dataset)"
        )
