"""Development and benchmark tools, installed only when DEVTOOLS is on (`make run`, `make test`, the
benches): the synthetic catalog seeder (`manage.py seed_catalog`). Nothing in the runtime apps imports it.
"""
