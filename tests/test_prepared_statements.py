"""core.db.execute_prepared: a fixed statement planned once per connection, prepared again after a reconnect."""

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from catalog.discovery import catalog_search
from tests.catalog.test_discovery import publish, publisher  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_result_lines_are_planned_once_per_connection_and_again_after_a_reconnect(publisher):  # noqa: F811
    for i in range(3):
        publish(publisher, f"미세먼지 자료 {i}")
    connection.close()  # a new connection: nothing prepared yet

    def statements():
        with CaptureQueriesContext(connection) as queries:
            result = catalog_search(QueryDict("q=미세먼지"))
        assert [e.title_ko for e in result.entries] == ["미세먼지 자료 2", "미세먼지 자료 1", "미세먼지 자료 0"]
        return [q["sql"].split(" ", 2)[:2] for q in queries if "catalog_result_lines" in q["sql"]]

    assert statements() == [["PREPARE", "catalog_result_lines"], ["EXECUTE", "catalog_result_lines"]]
    assert statements() == [["EXECUTE", "catalog_result_lines"]]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = 'catalog_result_lines'")
        assert cursor.fetchone()[0] == 1
    connection.close()  # Django reconnects (CONN_MAX_AGE, a failed health check): the new session has none
    assert statements() == [["PREPARE", "catalog_result_lines"], ["EXECUTE", "catalog_result_lines"]]


def test_result_lines_survive_a_migration_that_changes_a_shown_column(publisher):  # noqa: F811
    """A deploy runs migrations while the running processes keep their connections (CONN_MAX_AGE): a statement
    prepared before a column of its result changed type fails with "cached plan must not change result type" on
    every later EXECUTE of that session. The catalog page must keep answering: the statement is prepared again."""
    for i in range(2):
        publish(publisher, f"대기질 자료 {i}")
    connection.close()
    assert [e.title_ko for e in catalog_search(QueryDict("q=대기질")).entries] == ["대기질 자료 1", "대기질 자료 0"]
    with connection.cursor() as cursor:  # another process migrates: title_ko becomes longer
        cursor.execute("ALTER TABLE catalog_catalogentry ALTER COLUMN title_ko TYPE varchar(300)")
    try:
        assert [e.title_ko for e in catalog_search(QueryDict("q=대기질")).entries] == ["대기질 자료 1", "대기질 자료 0"]
        assert [e.title_ko for e in catalog_search(QueryDict("q=대기질")).entries] == ["대기질 자료 1", "대기질 자료 0"]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE catalog_catalogentry ALTER COLUMN title_ko TYPE varchar(200)")
    assert [e.title_ko for e in catalog_search(QueryDict("q=대기질")).entries] == ["대기질 자료 1", "대기질 자료 0"]


def test_result_lines_survive_a_session_whose_statements_were_deallocated(publisher):  # noqa: F811
    """A pooler or an operator's DISCARD ALL / DEALLOCATE ALL drops the session's prepared statements."""
    publish(publisher, "소음 자료")
    assert [e.title_ko for e in catalog_search(QueryDict("q=소음")).entries] == ["소음 자료"]
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    assert [e.title_ko for e in catalog_search(QueryDict("q=소음")).entries] == ["소음 자료"]


@pytest.mark.django_db(transaction=False)
def test_inside_a_transaction_a_dropped_statement_is_prepared_again_and_the_transaction_goes_on(publisher):  # noqa: F811
    publish(publisher, "소음 측정")
    assert connection.in_atomic_block
    assert [e.title_ko for e in catalog_search(QueryDict("q=소음")).entries] == ["소음 측정"]
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    assert [e.title_ko for e in catalog_search(QueryDict("q=소음")).entries] == ["소음 측정"]
    publish(publisher, "소음 지도")  # the transaction is not aborted
    assert {e.title_ko for e in catalog_search(QueryDict("q=소음")).entries} == {"소음 측정", "소음 지도"}
