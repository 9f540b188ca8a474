"""Payments: one gateway interface (gateway.py) with adapters (Toss-style card, bank transfer), the
simulated PG (simulator.py) and the idempotent confirmation services."""
