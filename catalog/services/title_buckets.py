"""Title buckets: where each catalog entry stands in the title order, as a key of the search index.

A large search in popularity or newest order reads only its matches in the sort buckets up to its page
(catalog.discovery._bucket_route); in title order the same needs buckets of titles. Their edges are titles taken at
even steps of the catalog's title order (from a sample when the catalog is large); an entry's key "s<set>:<n>" counts
the edges at or before its title. PostgreSQL compares them with the column's collation, so bucket n + 1 never holds a
title that sorts before one of bucket n: the entries of buckets 0…n are a prefix of ORDER BY title_ko, pk, whatever the
database's locale (a rule written in Python, e.g. the first syllable, would hold only for a code-point collation).

Every write of an entry (catalog.services.entries) computes its key for every set present, so a set being built is
kept up to date by the writes that happen meanwhile; a set serves searches once `complete`. Built by
`manage.py catalog_title_buckets` (after a bulk load) and by the daily beat task when the catalog has doubled since.
"""

import logging
import time

from django.conf import settings
from django.db import connection, transaction

from catalog.models import CatalogEntry, TitleBucketEdge, TitleBucketSet
from catalog.search import sample_key
from core.generation import bump_generation_on_commit

log = logging.getLogger(__name__)

# An entry's title keys, one per set (SQL over the entry's row as catalog_catalogentry): appended to its sort keys.
TITLE_KEYS_SQL = """ARRAY(
    SELECT 's' || s.id || ':' || (SELECT count(*) FROM catalog_titlebucketedge e
                                   WHERE e.bucket_set_id = s.id AND e.title <= catalog_catalogentry.title_ko)
      FROM catalog_titlebucketset s ORDER BY s.id)::varchar(12)[]"""

# The entry's sort keys other than title keys, with its title keys computed again.
REKEY_SQL = f"ARRAY(SELECT k FROM unnest(sort_keys) AS k WHERE k NOT LIKE 's%%')::varchar(12)[] || {TITLE_KEYS_SQL}"

EDGES_SQL = """
SELECT DISTINCT first FROM (
    SELECT min(title_ko) AS first, tile FROM (
        SELECT title_ko, ntile(%s) OVER (ORDER BY title_ko) AS tile FROM catalog_catalogentry {where}
    ) AS tiled GROUP BY tile
) AS tiles WHERE tile > 1
"""


BUILD_LOCK = 0x7469746C  # "titl"


class TitleBucketsBusy(Exception):
    """Another process is building title buckets."""


def current_set_id() -> int | None:
    """The newest complete set: the one searches use."""
    return TitleBucketSet.objects.filter(complete=True).order_by("-pk").values_list("pk", flat=True).first()


def _edges(buckets: int) -> list[str]:
    """Titles at even steps of the title order: of the whole catalog, or of the coarsest sample that still holds
    40 titles per bucket (a million entries: the 10 % sample, 100,000 titles)."""
    total = CatalogEntry.objects.count()
    where, params = "", []
    for modulus in settings.CATALOG_SAMPLE_LEVELS:
        if total / modulus >= 40 * buckets:
            where, params = "WHERE facet_keys @> ARRAY[%s]::varchar(80)[]", [sample_key(modulus)]
            break
    with connection.cursor() as cursor:
        cursor.execute(EDGES_SQL.format(where=where), [buckets, *params])
        return [row[0] for row in cursor.fetchall()]


def title_buckets_build(*, buckets: int | None = None, batch: int = 5_000) -> TitleBucketSet:
    """Build a new set of title buckets and key every entry with it, in short transactions of `batch` entries (a
    million entries: minutes, never one long lock); then it serves searches and older sets go. Safe to run again
    (each run makes a new set); entries written meanwhile get their key from catalog_entry_refresh."""
    buckets = buckets or settings.CATALOG_TITLE_BUCKETS
    with connection.cursor() as cursor:  # one build at a time (a session lock: no transaction is held by it)
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [BUILD_LOCK])
        if not cursor.fetchone()[0]:
            raise TitleBucketsBusy
    try:
        return _build(buckets, batch)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [BUILD_LOCK])


def _build(buckets: int, batch: int) -> TitleBucketSet:
    with transaction.atomic():
        # Sets older than the current one serve nobody: dropped now, so this pass removes their keys.
        current = current_set_id()
        TitleBucketSet.objects.exclude(pk=current).delete()
        new = TitleBucketSet.objects.create(entries=CatalogEntry.objects.count())
        TitleBucketEdge.objects.bulk_create(TitleBucketEdge(bucket_set=new, title=t) for t in _edges(buckets))
    _wait_for_older_writers()
    last = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT dataset_id FROM catalog_catalogentry WHERE dataset_id > %s ORDER BY dataset_id "
                "OFFSET %s LIMIT 1",
                [last, batch - 1],
            )
            row = cursor.fetchone()
            upto = row[0] if row else None
            cursor.execute(
                f"UPDATE catalog_catalogentry SET sort_keys = {REKEY_SQL} WHERE dataset_id > %s"
                + (" AND dataset_id <= %s" if upto is not None else ""),
                [last] + ([upto] if upto is not None else []),
            )
        if upto is None:
            break
        last = upto
    with transaction.atomic():
        TitleBucketSet.objects.filter(pk=new.pk).update(complete=True)
        bump_generation_on_commit()  # counts made before carry no keys of this set
    new.refresh_from_db()
    log.info("title buckets built", extra={"set": new.pk, "edges": new.edges.count(), "entries": new.entries})
    return new


# Other sessions' transactions that hold a transaction id (have written) while the set is committed.
OLDER_WRITERS_SQL = """
SELECT pid, backend_xid::text FROM pg_stat_activity
 WHERE pid <> pg_backend_pid() AND backend_xid IS NOT NULL AND datname = current_database()
"""
OLDER_WRITERS_WAIT = 900  # seconds; then the build stops, its set left incomplete (the next build drops it)


def _wait_for_older_writers(timeout: float = OLDER_WRITERS_WAIT) -> None:
    """Wait until every transaction that had written when the set was committed has ended. Such a transaction may
    have written an entry with the title keys of the sets it saw then (without the new one); a new row it inserted
    is invisible to the pass below until it commits, so the pass would miss it and the complete set would serve
    title pages without that entry. Transactions that write later compute the new set's key themselves."""
    with connection.cursor() as cursor:
        cursor.execute(OLDER_WRITERS_SQL)
        older = set(cursor.fetchall())
        deadline = time.monotonic() + timeout
        while older:
            if time.monotonic() > deadline:
                raise TimeoutError(f"title buckets: transactions {sorted(older)} stayed open; the set is not used")
            time.sleep(0.2)
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # (inside a transaction the view is read once)
            cursor.execute(OLDER_WRITERS_SQL)
            older &= set(cursor.fetchall())


def title_buckets_refresh() -> TitleBucketSet | None:
    """The daily task's rule: build when there is no set yet for a catalog of CATALOG_TITLE_BUCKETS_FROM entries or
    more, or when the catalog has doubled (or halved) since the current set was built."""
    entries = CatalogEntry.objects.count()
    current = TitleBucketSet.objects.filter(complete=True).order_by("-pk").first()
    if current is None:
        return title_buckets_build() if entries >= settings.CATALOG_TITLE_BUCKETS_FROM else None
    if entries > 2 * current.entries or entries < current.entries / 2:
        return title_buckets_build()
    return None
