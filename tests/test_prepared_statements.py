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
