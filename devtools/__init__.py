"""Development-only tools, each installed only when its setting asks for it (never in production), and
imported by no runtime app:

- the synthetic catalog seeder (`manage.py seed_catalog`, `devtools.seed`), app `devtools`, with DEVTOOLS
  (`make run`, `make test`, the benches);
- the simulated payment gateway (`devtools.pg_simulator`), with PG_SIMULATOR (`make run`, `make test`;
  `python -m devtools.pg_simulator --port N` serves it in a process of its own).
"""
