"""Database-level guards shared by models and migrations."""

from contextlib import nullcontext

from django.db import DatabaseError, transaction
from django.db.models import CheckConstraint, Q


def append_only_sql(table: str) -> tuple[str, str]:
    """SQL that makes `table` refuse UPDATE and DELETE (TRUNCATE, used by test isolation, stays allowed),
    and the SQL that undoes it. For audit trails that must not be edited, even by raw SQL."""
    function = f"{table}_append_only"
    forward = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{table} is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER {function}
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {function}();
"""
    reverse = f"""
DROP TRIGGER IF EXISTS {function} ON {table};
DROP FUNCTION IF EXISTS {function}();
"""
    return forward, reverse


def choices_constraint(field: str, choices, *, name: str):
    """A CheckConstraint that `field` holds one of `choices`' values (Django's choices alone constrain
    nothing in the database). Taken from the choices class, so a new state cannot be forgotten here."""
    return CheckConstraint(condition=Q(**{f"{field}__in": list(choices.values)}), name=name)


# SQLSTATEs of an EXECUTE whose prepared statement went stale: "cached plan must not change result type" (a migration
# changed the type of a column it returns, e.g. a longer varchar) and "prepared statement … does not exist" (the
# session's statements were dropped: DISCARD ALL, DEALLOCATE ALL). Prepared again, the statement runs.
STALE_PREPARED = {"0A000", "26000"}


def execute_prepared(cursor, name: str, sql: str, params: list, types: str) -> None:
    """Run `sql` (with $1, $2 … placeholders of `types`, e.g. "int[]") as a prepared statement of this connection:
    PostgreSQL plans it once per connection (after five runs a generic plan is used if no worse) instead of on every
    call. For fixed statements whose planning costs more than their execution (the catalog's result lines: 6 joins,
    1.7 ms to plan, 0.6 ms to run). The connection object keeps which statements it has: a new connection (Django
    reconnects, CONN_MAX_AGE) prepares again; a statement prepared inside a transaction that rolls back stays
    prepared (PREPARE is not transactional). A statement gone stale in the session (STALE_PREPARED: a migration run
    by another process changed a column it returns, or the session's statements were dropped) is prepared again
    and run, so a deploy's migration does not fail these pages until the connections are recycled; inside a
    transaction the EXECUTE runs in a savepoint for that. Not for a pooler in transaction mode (pgbouncer):
    prepared statements live in the server session."""
    wrapper, raw = cursor.db, cursor.db.connection  # Django's wrapper; psycopg2's connection (new on reconnect)
    state = getattr(wrapper, "_prepared_statements", None)
    if state is None or state[0] is not raw:
        state = (raw, set())
        wrapper._prepared_statements = state
    execute = f"EXECUTE {name} ({', '.join(['%s'] * len(params))})"
    if name in state[1]:
        try:
            with transaction.atomic(using=wrapper.alias) if wrapper.in_atomic_block else nullcontext():
                cursor.execute(execute, params)
            return
        except DatabaseError as exc:
            code = getattr(exc.__cause__, "pgcode", None)
            if code not in STALE_PREPARED:
                raise
            state[1].discard(name)
            if code != "26000":  # still there, with the old result type: dropped first
                cursor.execute(f"DEALLOCATE {name}")
    cursor.execute(f"PREPARE {name} ({types}) AS {sql}")
    state[1].add(name)
    cursor.execute(execute, params)
