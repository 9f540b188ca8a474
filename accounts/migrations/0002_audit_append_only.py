"""The audit trail refuses UPDATE and DELETE in the database itself, not only in the ORM."""

from django.db import migrations

from core.db import append_only_sql


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunSQL(*append_only_sql("accounts_auditevent"))]
