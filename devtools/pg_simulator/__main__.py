"""Serve the simulated PG in its own process, so the portal's workers can never starve it (benches, demos).

    python -m devtools.pg_simulator --port 8765 [--workers 2] [--threads 8]

Then point the portal at it: PG_API_BASE=http://127.0.0.1:8765/pg-sim and
PG_CHECKOUT_URL=http://127.0.0.1:8765/pg-sim/checkout/ (and PG_SIMULATOR_WEBHOOK_URL at the portal's
/orders/payments/webhook/ if the success URL's host is not the portal). Uses the same REDIS_URL and keys.
"""

import argparse
import os
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.pg_simulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    os.environ["DJANGO_SETTINGS_MODULE"] = "devtools.pg_simulator.standalone_settings"
    os.execv(
        sys.executable,
        [
            sys.executable,
            "-m",
            "gunicorn",
            "devtools.pg_simulator.wsgi:application",
            "--bind",
            f"{args.host}:{args.port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
    )
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
