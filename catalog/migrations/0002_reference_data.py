"""Load the 공공데이터 분류체계 themes and the standard licences (catalog/reference_data.py)."""

from django.db import migrations


def load(apps, schema_editor):
    # migration: imported when it runs, so that loading the migration graph never depends on app code
    from catalog.reference_data import ensure_reference_data

    ensure_reference_data(apps.get_model("catalog", "Theme"), apps.get_model("catalog", "Licence"))


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
