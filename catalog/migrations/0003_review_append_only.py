"""Review decisions refuse UPDATE and DELETE in the database itself (TRUNCATE stays allowed)."""

from django.db import migrations

FORBID = """
CREATE OR REPLACE FUNCTION catalog_review_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'catalog_review is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER catalog_review_append_only
    BEFORE UPDATE OR DELETE ON catalog_review
    FOR EACH ROW EXECUTE FUNCTION catalog_review_append_only();
"""

ALLOW = """
DROP TRIGGER IF EXISTS catalog_review_append_only ON catalog_review;
DROP FUNCTION IF EXISTS catalog_review_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_reference_data")]

    operations = [migrations.RunSQL(FORBID, ALLOW)]
