from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("transactions", "0003_verbose_names")]

    operations = [
        migrations.AddField(model_name="package", name="lease", field=models.UUIDField(blank=True, null=True)),
        migrations.AddField(
            model_name="package", name="heartbeat_at", field=models.DateTimeField(blank=True, null=True)
        ),
    ]
