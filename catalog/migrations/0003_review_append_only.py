"""Review decisions refuse UPDATE and DELETE in the database itself, not only in the ORM."""

from django.db import migrations

from core.db import append_only_sql


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_reference_data")]

    operations = [migrations.RunSQL(*append_only_sql("catalog_review"))]
