"""How common each Hangul lexeme of the catalog is, counted in a sample: which sample of a search to read first.

A search's figures come from the coarsest sample holding enough of its matches (catalog.discovery._counts): the
0.1 % sample first, then the 1 % one, then the 10 % one. Most searches are of words that some thousands of datasets
hold, which the 0.1 % sample sees a few times: too few to estimate, so the 1 % sample is read next and the first
statement was for nothing (86 % of the 0.1 % statements of 200 never-seen searches at a million datasets, ~2.3 ms
of the database each). Every match holds each of the search's Hangul lexemes (catalog.search.required_lexemes), so
the rarest of them bounds its matches. Counted once a day in a sample of at most SAMPLE_TARGET entries (PostgreSQL's
ts_stat over their vectors), that bound says which samples cannot hold enough matches (skipped) and when the matches
are surely few (counted exactly at once, without any sample).

Counts that grew stale cost time, never a wrong figure: a search the bound calls few is counted exactly up to twice
the cap (catalog.discovery._figures), past which its samples are read as before; finding more than the cap asks for
a new count (found_more). The counts live in the cache (every process reads the same, each keeps a copy
KEEP_SECONDS); without them (a new catalog, a flushed cache) searches read their samples as before and the first one
asks a worker to count.
"""

import math
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from catalog import tasks
from catalog.models import CatalogEntry
from catalog.search import sample_key

LEXEMES_KEY = "catalog:lexeme-frequencies:v1"  # (a new shape of the counts: a new version, read as none until counted)
LEXEMES_TTL = 3 * 24 * 3600  # counted daily (CELERY_BEAT_SCHEDULE); a lost copy is asked for by the next search
SAMPLE_TARGET = 20_000  # entries of the sample counted: the finest sample level that holds at most this many
KEEP_SECONDS = 600  # this process's copy
ASK_AGAIN_SECONDS = 600  # one count asked of the workers at a time
ASKED_KEY = f"{LEXEMES_KEY}:asked"  # while set, no count is asked for

HANGUL_ONLY = "^[가-힣]+$"  # the lexemes of catalog.search.hangul_lexemes (English ones are stemmed by PostgreSQL)


def upper_bound(seen: float) -> float:
    """An upper bound of the mean of a Poisson count seen `seen` times (in sample units): ~97.5 % (~95 % at 0)."""
    return seen + 2 * math.sqrt(seen) + 3


class LexemeFrequencies:
    """Counts of the Hangul lexemes in the 1-in-`modulus` sample; lexemes seen fewer than `floor` times there are
    not kept (whatever their count, the bound of a search holding one is at most the exact-count cap)."""

    __slots__ = ("modulus", "floor", "counts", "entries", "counted_at")

    def __init__(self, *, modulus: int, floor: int, counts: dict[str, int], entries: int, counted_at: float):
        self.modulus = modulus
        self.floor = floor
        self.counts = counts
        self.entries = entries  # of the sample, when counted
        self.counted_at = counted_at

    def matches_at_most(self, lexemes) -> float | None:
        """An upper bound (~97.5 %) of the entries holding every one of `lexemes`; None without lexemes."""
        if not lexemes:
            return None
        rarest = min(self.counts.get(lexeme, self.floor - 1) for lexeme in lexemes)
        return upper_bound(max(rarest, 0)) * self.modulus

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}


def _sample_size(modulus: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {CatalogEntry._meta.db_table} WHERE facet_keys @> %s::varchar(80)[]",
            [[sample_key(modulus)]],
        )
        return cursor.fetchone()[0]


def _floor(modulus: int) -> int:
    """The fewest sightings that can stand for more matches than CATALOG_EXACT_CAP (1 at least)."""
    seen = 0
    while upper_bound(seen) * modulus <= settings.CATALOG_EXACT_CAP:
        seen += 1
    return max(seen, 1)


def lexeme_frequencies_count() -> LexemeFrequencies:
    """Count the Hangul lexemes of a sample of the catalog and keep the counts in the cache (a worker, daily). The
    sample: the finest level holding at most SAMPLE_TARGET entries (the coarsest when even it holds more), so the
    count reads ~10,000 vectors at a million datasets (1 %) as at 10,000,000 (0.1 %) and keeps their figures within
    ~10 %."""
    levels = sorted(settings.CATALOG_SAMPLE_LEVELS, reverse=True)  # coarsest first
    coarsest_entries = _sample_size(levels[0])
    modulus = levels[0]
    for finer in levels[1:]:
        if coarsest_entries * levels[0] / finer > SAMPLE_TARGET:
            break
        modulus = finer
    entries = coarsest_entries if modulus == levels[0] else _sample_size(modulus)
    floor = _floor(modulus)
    vectors = (
        f"SELECT search_vector FROM {CatalogEntry._meta.db_table} "
        f"WHERE facet_keys @> ARRAY['{sample_key(modulus)}']::varchar(80)[]"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT word, ndoc FROM ts_stat(%s) WHERE ndoc >= %s AND word ~ %s", [vectors, floor, HANGUL_ONLY]
        )
        counts = dict(cursor.fetchall())
    frequencies = LexemeFrequencies(
        modulus=modulus, floor=floor, counts=counts, entries=entries, counted_at=time.time()
    )
    cache.set(LEXEMES_KEY, frequencies.as_dict(), LEXEMES_TTL)
    cache.delete(ASKED_KEY)
    forget()
    return frequencies


_kept: list = []  # [(kept until, LexemeFrequencies or None)]: this process's copy


def lexeme_frequencies() -> LexemeFrequencies | None:
    """The counts every search reads (this process's copy); None when there are none yet: then a worker is asked to
    count them (once at a time) and searches read their samples as before meanwhile."""
    now = time.monotonic()
    if _kept and _kept[0][0] > now:
        return _kept[0][1]
    stored = cache.get(LEXEMES_KEY)
    try:
        frequencies = LexemeFrequencies(**stored) if stored else None
    except TypeError:  # another shape under the same key (a mistake): as none, counted again
        frequencies = None
    if frequencies is None:
        ask_for_count()
    _kept[:] = [(now + (KEEP_SECONDS if frequencies else 60), frequencies)]
    return frequencies


def ask_for_count() -> bool:
    """Ask a worker to count the lexemes again (once per ASK_AGAIN_SECONDS): none yet, or they proved stale."""
    if not cache.add(ASKED_KEY, 1, timeout=ASK_AGAIN_SECONDS):
        return False
    try:
        tasks.lexeme_frequencies_task.delay()
    except Exception:  # the broker is down: searches read their samples; the next one asks again
        cache.delete(ASKED_KEY)
        return False
    return True


def found_more(bound: tuple[float | None, LexemeFrequencies | None]) -> None:
    """A search its bound put within the cap found more matches (catalog.discovery._figures). When its lexemes made
    that bound (`bound`: their bound and the counts it came from; not its filters), their counts went stale: this
    process drops its copy, and a worker counts again unless a newer count is in the cache already."""
    value, used = bound
    if value is None or used is None or value > settings.CATALOG_EXACT_CAP:
        return
    forget()
    current = lexeme_frequencies()  # (asks for a count itself when there is none)
    if current is not None and current.counted_at > used.counted_at:
        return
    ask_for_count()


def drop_counts(*, ask_none_for: int) -> None:
    """No counts anywhere (the cache and this process's copy), and none asked for during `ask_none_for` seconds:
    searches read their samples from the coarsest, as without counts (the tests' start, bench --lexeme-counts off)."""
    cache.delete(LEXEMES_KEY)
    cache.set(ASKED_KEY, 1, timeout=ask_none_for)
    forget()


def forget() -> None:
    """Drop this process's copy (the next search reads the cache)."""
    _kept.clear()
