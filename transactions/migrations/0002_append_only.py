"""Licence acceptances and payment events refuse UPDATE and DELETE in the database itself."""

from django.db import migrations

from core.db import append_only_sql


class Migration(migrations.Migration):
    dependencies = [("transactions", "0001_initial")]

    operations = [
        migrations.RunSQL(*append_only_sql("transactions_licenceacceptance")),
        migrations.RunSQL(*append_only_sql("transactions_paymentevent")),
    ]
