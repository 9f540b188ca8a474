"""Signals of live tables. catalog never imports transactions: the buyers' webhooks (transactions.livefeed)
listen here. Sent after the append's commit."""

from django.dispatch import Signal

# kwargs: table_id, first_seq, last_seq
rows_appended = Signal()
