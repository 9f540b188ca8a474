"""Database-level guards shared by migrations."""


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
