from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = _("Catalog")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # ready(): catalog.states imports catalog.models, which cannot load before the app registry; imported for
        # its side effect (it registers the state table).
        from catalog import states  # noqa: F401
