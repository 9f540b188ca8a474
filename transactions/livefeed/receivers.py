"""Receivers of catalog.live signals (connected in TransactionsConfig.ready)."""

from django.db import transaction

from catalog.live.signals import rows_appended


def on_rows_appended(sender=None, *, table_id: int, **kwargs) -> None:
    """Sent after an append's commit: queue the fan-out to the table's webhooks (only enqueues)."""
    # tasks import requests and the services: loaded once the app registry is ready
    from transactions.livefeed.tasks import webhooks_fanout_task

    transaction.on_commit(lambda: webhooks_fanout_task.delay(table_id))


def connect() -> None:
    """Connect the receivers (TransactionsConfig.ready)."""
    rows_appended.connect(on_rows_appended, dispatch_uid="transactions.livefeed.fanout")
