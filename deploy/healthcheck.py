"""The web container's health check (docker-compose.yml): GET /healthz?scope=web on this container's gunicorn.

Exit 0 when it answers 200 (the database and Redis reachable), 1 otherwise. The workers are not part of it: a stopped
worker must not take every web container out of service (plain /healthz, for monitoring, includes them).
The Host header is the first of DJANGO_ALLOWED_HOSTS, so the check passes whatever host names the site answers to.
Standard library only; HEALTHCHECK_URL overrides the address (tests)."""

import os
import sys
import urllib.error
import urllib.request

URL = os.environ.get("HEALTHCHECK_URL", "http://127.0.0.1:8000/healthz?scope=web")


def host_header() -> str:
    first = (os.environ.get("DJANGO_ALLOWED_HOSTS", "") or "localhost").split(",")[0].strip()
    if first in ("", "*"):
        return "localhost"
    return "health" + first if first.startswith(".") else first  # ".example.kr" allows any subdomain


def main() -> int:
    request = urllib.request.Request(URL, headers={"Host": host_header()})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
