"""Korean full-text search in PostgreSQL: Hangul as character n-grams (plus whole runs), English stemmed.

Korean words carry particles and form compounds (초미세먼지측정망), so whole-word lexemes miss most
matches. Each run of Hangul is indexed as its overlapping bigrams and trigrams plus the whole run, and a
query word becomes the n-grams that cover it: a two- or three-syllable word is one lexeme (exactly its
bigram or trigram), a longer word the AND of its trigrams, a single syllable a prefix. So 미세먼지
(미세먼 & 세먼지) matches 초미세먼지측정망, and 사용량 (one trigram) does not match 사용료 + 저장용량.

Because a query is a plain AND of lexemes (no phrase operator, no weights), the GIN index answers it
exactly: PostgreSQL never reads the large, TOASTed vectors back to recheck positions, which at a million
datasets was most of a search's time (shared/reference/search.md; measured in bench/search.py). The only
approximation is a word of four or more syllables whose trigrams all occur in a dataset but never in a
row; measured on the seeded million, see docs/search.md.
Works on PostgreSQL 15 and the embedded 16 (no extension needed).
"""

import re
from datetime import UTC

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db.models import TextField, Value

HANGUL_RUN = re.compile(r"[\uac00-\ud7a3]+")
LATIN_WORD = re.compile(r"[A-Za-z0-9]+")


def hangul_lexemes(text: str) -> list[str]:
    """Each Hangul run's overlapping bigrams and trigrams, plus the run itself (when longer than three)."""
    lexemes = []
    for run in HANGUL_RUN.findall(text or ""):
        if len(run) > 3:
            lexemes.append(run)
        lexemes.extend(run[i : i + 2] for i in range(max(1, len(run) - 1)))
        lexemes.extend(run[i : i + 3] for i in range(len(run) - 2))
    return lexemes


def hangul_document(*texts: str) -> str:
    return " ".join(lexeme for text in texts for lexeme in hangul_lexemes(text))


CAMEL_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
CAMEL_JOIN = re.compile(r"[a-z][A-Z]")


def latin_words(text: str) -> list[str]:
    """The Latin words of a text; a word written in camel case (AirQualityObserved, the NGSI-LD type names of
    smart-city data) is followed by its parts, so "air quality" finds it as well as the glued word does."""
    words = []
    for word in LATIN_WORD.findall(text or ""):
        words.append(word)
        if CAMEL_JOIN.search(word):
            words.extend(CAMEL_PART.findall(word))
    return words


def latin_document(*texts: str) -> str:
    return " ".join(latin_words(" ".join(t or "" for t in texts)))


def _weighted(korean: str, latin: str, weight: str):
    return SearchVector(Value(korean, output_field=TextField()), config="simple", weight=weight) + SearchVector(
        Value(latin, output_field=TextField()), config="english", weight=weight
    )


def version_vector(version):
    """The stored search vector of a version: title A, keywords and publisher B, description C, column names D."""
    columns = [
        field["name"] for datafile in version.files.all() for field in (datafile.table_schema or {}).get("fields", [])
    ]
    publisher = version.dataset.publisher
    parts = [
        ((version.title_ko, version.title_en), "A"),
        ((" ".join(version.tags), publisher.name_ko, publisher.name_en, version.department), "B"),
        ((version.description_ko, version.description_en, version.theme.name_ko), "C"),
        ((" ".join(dict.fromkeys(columns)),), "D"),  # a table offered as CSV and JSON: its columns once
    ]
    vector = None
    for texts, weight in parts:
        term = _weighted(hangul_document(*texts), latin_document(*texts), weight)
        vector = term if vector is None else vector + term
    return vector


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("'", "''") + "'"


def query_lexemes(word: str) -> list[str]:
    """The lexemes a Hangul query word must all match (see the module docstring)."""
    if len(word) <= 3:
        return [word]
    return [word[i : i + 3] for i in range(len(word) - 2)]


def _hangul_runs(q: str) -> list[str]:
    return list(dict.fromkeys(HANGUL_RUN.findall((q or "").strip()[:200])))


def required_lexemes(q: str) -> list[str]:
    """The whole Hangul lexemes every match of a search for `q` holds: parse_query's clauses but the one-syllable
    prefixes and the English words (stemmed by PostgreSQL). How common each is bounds the matches
    (catalog.lexemes)."""
    return list(dict.fromkeys(lexeme for run in _hangul_runs(q) if len(run) > 1 for lexeme in query_lexemes(run)))


def parse_query(q: str) -> SearchQuery | None:
    """A query for the stored vector: every word must match (Hangul by its n-grams, English stemmed)."""
    q = (q or "").strip()[:200]
    clauses = []
    for run in _hangul_runs(q):
        if len(run) == 1:
            clauses.append(f"{_quote(run)}:*")
        else:
            clauses.extend(_quote(lexeme) for lexeme in query_lexemes(run))
    query = SearchQuery(" & ".join(dict.fromkeys(clauses)), search_type="raw", config="simple") if clauses else None
    latin = " ".join(LATIN_WORD.findall(q))
    if latin:
        english = SearchQuery(latin, search_type="plain", config="english")
        query = english if query is None else query & english
    return query


# --- facet keys: every facet value of an entry as one GIN-indexed key ------------------------------------------

FACET_PREFIX = {
    "theme": "t",
    "publisher": "p",
    "licence": "l",
    "cadence": "c",
    "area": "a",
    "format": "f",
    "price": "$",
    "tag": "g",
}
PREFIX_FACET = {prefix: facet for facet, prefix in FACET_PREFIX.items()}


def sample_key(modulus: int) -> str:
    """The key of the entries in the 1-in-`modulus` sample (settings.CATALOG_SAMPLE_LEVELS)."""
    return f"~{modulus}"


def facet_key(facet: str, value) -> str:
    return f"{FACET_PREFIX[facet]}:{value}"[:80]


def in_sample(dataset_id: int, modulus: int) -> bool:
    """Whether an entry belongs to the fixed 1-in-`modulus` sample behind estimated counts (a multiplicative hash
    of the id, so the sample is spread evenly over publishers and publication dates). With levels that divide
    each other (1,000, 100, 10) every sample holds the coarser ones."""
    return (dataset_id * 2654435761) % 4294967296 % modulus == 0


def facet_keys(
    *, dataset_id, theme_id, publisher_id, licence_id, cadence, area, formats, price_types, tags, sample_levels
) -> list[str]:
    """The keys of an entry's facet values (CatalogEntry.facet_keys); seeding builds the same list."""
    keys = [facet_key("theme", theme_id), facet_key("publisher", publisher_id)]
    if licence_id:
        keys.append(facet_key("licence", licence_id))
    if cadence:
        keys.append(facet_key("cadence", cadence))
    if area:
        keys.append(facet_key("area", area))
    keys += [facet_key("format", v) for v in formats]
    keys += [facet_key("price", v) for v in price_types]
    keys += [facet_key("tag", v) for v in dict.fromkeys(tags)]
    keys += [sample_key(modulus) for modulus in sample_levels if in_sample(dataset_id, modulus)]
    return list(dict.fromkeys(keys))


# --- sort buckets: where an entry stands in the popularity and newest orders -------------------------------------


def downloads_bucket(download_count: int) -> int:
    """⌊4 · log2(downloads + 1)⌋, in integers: four buckets per doubling (0: none, 4: one, 6: two, 8: three, …),
    so a deep page reads at most ~19 % more rows than it needs from its bucket edge. Any non-decreasing function
    would keep the buckets above an edge a prefix of the popularity order."""
    return ((int(download_count) + 1) ** 4).bit_length() - 1


def month_bucket(when) -> str:
    return f"{when.astimezone(UTC):%Y%m}"


def sort_keys(download_count: int, published_at) -> list[str]:
    return [f"d:{downloads_bucket(download_count)}", f"n:{month_bucket(published_at)}"]


__all__ = [
    "hangul_document",
    "hangul_lexemes",
    "latin_document",
    "facet_keys",
    "in_sample",
    "parse_query",
    "sort_keys",
    "query_lexemes",
    "required_lexemes",
    "version_vector",
]
