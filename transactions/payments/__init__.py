"""Payments: one gateway interface (gateway.py) with adapters (Toss-style card, bank transfer) and the
idempotent confirmation services. The simulated PG for development and tests is devtools/pg_simulator."""
