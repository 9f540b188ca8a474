from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # ready(): these import accounts.models, which cannot load before the app registry; the first two are
        # imported for their side effects (the django-rules permissions and the state table).
        from allauth.mfa.signals import authenticator_removed  # same reason: allauth.mfa's models

        from accounts import permissions, states  # noqa: F401
        from accounts.middleware import forget_second_factor, remember_policies_at_login  # same: accounts.selectors

        user_logged_in.connect(remember_policies_at_login, dispatch_uid="accounts.remember_policies_at_login")
        authenticator_removed.connect(forget_second_factor, dispatch_uid="accounts.forget_second_factor")
