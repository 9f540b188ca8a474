from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TransactionsConfig(AppConfig):
    name = "transactions"
    verbose_name = _("Transactions")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The state tables register with core.transitions; the signal hooks delivery to publication.
        from catalog.signals import version_published
        from transactions import states  # noqa: F401
        from transactions.delivery.services import on_version_published

        # A subscription gets every version published during its period (delivered by a retried task).
        version_published.connect(on_version_published, dispatch_uid="transactions.deliver_published_version")
