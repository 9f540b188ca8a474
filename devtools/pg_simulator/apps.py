from django.apps import AppConfig


class PgSimulatorConfig(AppConfig):
    name = "devtools.pg_simulator"
    label = "pg_simulator"
    verbose_name = "Simulated payment gateway (development only)"
