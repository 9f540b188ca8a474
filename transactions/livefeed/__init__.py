"""Buyers' live feeds (issue 16): Server-Sent Events of a live table's rows, and signed webhooks (Standard Webhooks)
with retries. Entitlement: transactions.dataapi.access.data_access(...).live, checked when a stream opens, while it
runs, and before every webhook delivery."""
