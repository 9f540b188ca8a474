"""The estimate's statements read the partial GIN index of their sample (CatalogEntry.Meta, docs/search.md): the
sample's own posting lists, not the whole catalog's. The planner uses a partial index only when it can prove the
statement's WHERE implies the index's predicate, so this test is about the SQL discovery._counts writes: with the
catalog-wide index gone (dropped inside the test's transaction) and sequential scans priced out, a statement that
did not carry its sample key in the index's exact form would be a sequential scan."""

import re

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext, override_settings

from catalog import discovery
from catalog.discovery import catalog_search
from catalog.models import SAMPLE_INDEX_LEVELS, CatalogEntry
from tests.catalog.test_discovery import publish

pytestmark = pytest.mark.django_db


def _plan(sql, params) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@override_settings(CATALOG_SAMPLE_LEVELS=list(SAMPLE_INDEX_LEVELS), CATALOG_EXACT_CAP=0)
@pytest.mark.parametrize(
    "params", ["q=대기질", "q=대기질&price=free&format=csv", "theme=environment", "q=대기질 정왕동"]
)
def test_each_sample_statement_reads_its_own_partial_index(publisher, params, monkeypatch):
    # Every level read: no bound of the matches from how common the words and filters are (which skips levels).
    monkeypatch.setattr(discovery, "_matches_at_most", lambda search, state: None)
    for i in range(6):
        publish(publisher, f"대기질 정왕동 측정 {i}", formats=("csv",) if i % 2 else ("json",))
    with CaptureQueriesContext(connection) as captured:
        catalog_search(QueryDict(params))
    samples = {}
    for query in captured.captured_queries:
        found = re.search(r"ARRAY\['~(\d+)'\]", query["sql"])
        if found:  # the first of each level: the search's own (the key frequencies' statement reads "~1000" later)
            samples.setdefault(int(found.group(1)), query["sql"])
    # With no cap every level is asked (the few matches never make a sample enough): one statement per level.
    assert sorted(samples) == sorted(SAMPLE_INDEX_LEVELS), list(samples)

    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX entry_search_gin")  # rolled back with the test's transaction
        cursor.execute("SET LOCAL enable_seqscan = off")
    for modulus, sql in samples.items():
        plan = _plan(sql, None)  # captured_queries holds the statement as sent, parameters in place
        assert f"entry_sample_{modulus}" in plan and "Seq Scan" not in plan, plan


def test_the_partial_indexes_hold_exactly_their_samples(publisher):
    from catalog.search import in_sample

    for i in range(30):
        publish(publisher, f"자료 {i}")
    for modulus in SAMPLE_INDEX_LEVELS:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = %s::regclass",
                [f"entry_sample_{modulus}"],
            )
            predicate = cursor.fetchone()[0]
        assert f"'~{modulus}'" in predicate
        in_index = set(
            CatalogEntry.objects.extra(where=[predicate]).values_list("pk", flat=True)  # the index's own predicate
        )
        assert in_index == {e.pk for e in CatalogEntry.objects.all() if in_sample(e.pk, modulus)}
