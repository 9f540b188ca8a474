from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # ready(): these import accounts.models, which cannot load before the app registry; imported for their
        # side effects (the django-rules permissions and the state table).
        from accounts import permissions, states  # noqa: F401
