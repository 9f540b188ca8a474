"""Receipts, cancelling receipts, 세금계산서 / 계산서 records and 현금영수증 records: immutable documents issued
from the ledger (see models.py for what each is, services.py for when they are issued)."""
