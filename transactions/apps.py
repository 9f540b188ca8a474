from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TransactionsConfig(AppConfig):
    name = "transactions"
    verbose_name = _("Transactions")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported once the app registry is ready (they load models): the state tables register with
        # core.transitions, and a publication reaches the subscribers (a retried task).
        from catalog.signals import version_published  # registry ready
        from transactions import checks, states  # noqa: F401  (registers the system checks and state tables)
        from transactions.delivery.services import on_version_published  # registry ready

        version_published.connect(on_version_published, dispatch_uid="transactions.deliver_published_version")
        from transactions.livefeed.receivers import connect  # registry ready (issue 16: live webhooks)

        connect()
