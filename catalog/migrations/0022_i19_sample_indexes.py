# Partial GIN indexes of the fixed samples behind estimated counts (CatalogEntry.Meta, docs/search.md).
# CONCURRENTLY: searches and entry writes go on while they are built (a million entries: ~30 s for the three).

import django.contrib.postgres.indexes
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0007_i16_metering"),
        ("catalog", "0021_i19_title_buckets"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="catalogentry",
            index=django.contrib.postgres.indexes.GinIndex(
                condition=models.Q(("facet_keys__contains", [f"~{modulus}"])),
                fields=["search_vector", "facet_keys", "sort_keys"],
                name=f"entry_sample_{modulus}",
            ),
        )
        for modulus in (1000, 100, 10)
    ]
