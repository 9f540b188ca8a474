"""Korean full-text search in PostgreSQL: Hangul as overlapping bigrams (plus whole runs), English stemmed.

Korean words carry particles and form compounds (초미세먼지측정망), so whole-word lexemes miss most
matches. Each run of Hangul is indexed as its bigrams and the whole run; a query word becomes its
bigrams joined with `<->` (a phrase inside the word), so 미세먼지 matches 초미세먼지측정망 but 사용량 does
not match 사용료 + 저장용량. One-syllable words become prefix queries. Measured design and costs:
shared/reference/search.md. Works on PostgreSQL 15 and the embedded 16 (no extension needed).
"""

import re

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db.models import TextField, Value

HANGUL_RUN = re.compile(r"[\uac00-\ud7a3]+")
LATIN_WORD = re.compile(r"[A-Za-z0-9]+")


def hangul_lexemes(text: str) -> list[str]:
    """Each Hangul run's overlapping bigrams, plus the run itself."""
    lexemes = []
    for run in HANGUL_RUN.findall(text or ""):
        if len(run) > 2:
            lexemes.append(run)
        lexemes.extend(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    return lexemes


def hangul_document(*texts: str) -> str:
    return " ".join(lexeme for text in texts for lexeme in hangul_lexemes(text))


def latin_document(*texts: str) -> str:
    return " ".join(LATIN_WORD.findall(" ".join(t or "" for t in texts)))


def _weighted(korean: str, latin: str, weight: str):
    return SearchVector(Value(korean, output_field=TextField()), config="simple", weight=weight) + SearchVector(
        Value(latin, output_field=TextField()), config="english", weight=weight
    )


def version_vector(version):
    """The stored search vector of a version: title A, keywords and publisher B, description C, column names D."""
    columns = [
        field["name"]
        for datafile in version.files.all()
        for field in (datafile.table_schema or {}).get("fields", [])
    ]
    publisher = version.dataset.publisher
    parts = [
        ((version.title_ko, version.title_en), "A"),
        ((" ".join(version.tags), publisher.name_ko, publisher.name_en, version.department), "B"),
        ((version.description_ko, version.description_en, version.theme.name_ko), "C"),
        ((" ".join(columns),), "D"),
    ]
    vector = None
    for texts, weight in parts:
        term = _weighted(hangul_document(*texts), latin_document(*texts), weight)
        vector = term if vector is None else vector + term
    return vector


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("'", "''") + "'"


def parse_query(q: str, *, loose: bool = False) -> SearchQuery | None:
    """A query for the stored vector: every word must match (Hangul by bigram phrase, English stemmed).

    `loose` joins a word's bigrams with `&` instead of `<->`: a superset of the matches that the GIN index
    answers without reading the (large, TOASTed) vectors back, used to decide cheaply whether a search
    matches more than the exact-count cap."""
    q = (q or "").strip()[:200]
    clauses = []
    joiner = " & " if loose else " <-> "
    for run in HANGUL_RUN.findall(q):
        if len(run) == 1:
            clauses.append(f"{_quote(run)}:*")
        else:
            clauses.append("(" + joiner.join(_quote(run[i : i + 2]) for i in range(len(run) - 1)) + ")")
    query = SearchQuery(" & ".join(clauses), search_type="raw", config="simple") if clauses else None
    latin = " ".join(LATIN_WORD.findall(q))
    if latin:
        english = SearchQuery(latin, search_type="plain", config="english")
        query = english if query is None else query & english
    return query


__all__ = ["hangul_document", "hangul_lexemes", "latin_document", "parse_query", "version_vector"]
