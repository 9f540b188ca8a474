"""Database-level guards shared by models and migrations."""

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
