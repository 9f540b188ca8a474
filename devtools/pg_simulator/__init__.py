"""The simulated PG (Toss Payments' HTTP shape). Installed, and mounted at /pg-sim/, only when
settings.PG_SIMULATOR is on (make run, tests, benches); `python -m devtools.pg_simulator --port N`
serves it in a process of its own."""
