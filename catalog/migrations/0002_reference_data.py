"""Load the 공공데이터 분류체계 themes and the standard licences (catalog/reference_data.py)."""

from django.db import migrations


def load(apps, schema_editor):
    from catalog.reference_data import LICENCES, THEMES, licence_texts

    Theme = apps.get_model("catalog", "Theme")
    Licence = apps.get_model("catalog", "Licence")
    for position, (code, name_ko, name_en) in enumerate(THEMES):
        Theme.objects.update_or_create(code=code, defaults={"name_ko": name_ko, "name_en": name_en, "position": position})
    for position, row in enumerate(LICENCES):
        code, family, name_ko, name_en, summary_ko, summary_en, extra_ko, extra_en, url, commercial, derivatives = row
        text_ko, text_en = licence_texts(code, summary_ko, summary_en, extra_ko, extra_en, url)
        Licence.objects.update_or_create(
            code=code,
            defaults=dict(
                family=family, name_ko=name_ko, name_en=name_en, summary_ko=summary_ko, summary_en=summary_en,
                text_ko=text_ko, text_en=text_en, url=url, allows_commercial_use=commercial,
                allows_derivatives=derivatives, position=position,
            ),
        )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
