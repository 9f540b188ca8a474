"""The data API's metering overhead per call (issue 16): admit (one Lua script: count the window, refuse over the
limit) + finish (one Lua script: usage counters) against the real Redis of REDIS_URL, and rate_headers.

    .venv/bin/python bench/metering.py [calls]

Prints p50 / p95 / mean in milliseconds for admit, finish and the pair, for the default allowance (per
organization per day), a development plan (per day), a subscription (per minute) and a metered plan (per month).
Quota keys are those of organization/plan ids 10**9+…, deleted afterwards."""

import os
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

import django  # noqa: E402

django.setup()

from django.test import RequestFactory  # noqa: E402

from transactions.dataapi import metering  # noqa: E402


def plan(pk, kind, **fields):
    values = {"daily_quota": None, "rate_limit_per_minute": None, "price_per_1000_krw": 0, "monthly_cap_krw": None}
    values.update(fields)
    p = SimpleNamespace(pk=pk, kind=kind, **values)
    p.monthly_call_cap = (
        values["monthly_cap_krw"] * 1000 // values["price_per_1000_krw"] if kind == "api_metered" else None
    )
    return p


def run(label, access, calls):
    request = RequestFactory().get("/api/v1/data/x/latest/t", REMOTE_ADDR="198.51.100.9")
    admit_ms, finish_ms = [], []
    for _ in range(calls):
        t0 = time.perf_counter()
        grant = metering.admit(request=request, access=access, dataset=None)
        metering.rate_headers(grant)
        t1 = time.perf_counter()
        metering.finish(grant, dataset_id=1, table="bench", status=200, nbytes=1234)
        t2 = time.perf_counter()
        admit_ms.append((t1 - t0) * 1000)
        finish_ms.append((t2 - t1) * 1000)
    both = [a + b for a, b in zip(admit_ms, finish_ms, strict=True)]

    def q(values, p):
        return statistics.quantiles(values, n=100)[p - 1]

    print(
        f"{label:<28} admit p50 {q(admit_ms, 50):.3f} p95 {q(admit_ms, 95):.3f} | finish p50 {q(finish_ms, 50):.3f} "
        f"p95 {q(finish_ms, 95):.3f} | both p50 {q(both, 50):.3f} p95 {q(both, 95):.3f} mean {statistics.mean(both):.3f} ms"
    )


def main():
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    org = SimpleNamespace(pk=10**9 + 1)
    big = 10**9
    cases = [
        ("default allowance (day)", None),
        ("development plan (day)", plan(10**9 + 2, "api_dev", daily_quota=big)),
        ("subscription (minute)", plan(10**9 + 3, "api_subscription", rate_limit_per_minute=big)),
        ("metered (month vs cap)", plan(10**9 + 4, "api_metered", price_per_1000_krw=1, monthly_cap_krw=big)),
    ]
    r = metering.client()
    r.set(
        f"dapi:q:month:{metering._window('month', __import__('datetime').datetime.now(tz=metering.SEOUL))[0]}:plan:{10**9 + 4}",
        0,
    )
    from django.conf import settings

    settings.DATA_API_DEFAULT_DAILY_QUOTA = big
    try:
        for label, p in cases:
            access = SimpleNamespace(full=True, live=True, organization=org, entitlement=None, plan=p, why_not="")
            run(label, access, calls)
    finally:
        for key in r.scan_iter("dapi:q:*1000000*"):
            r.delete(key)
        r.hdel(metering.USAGE_KEY, *[f for f in r.hkeys(metering.USAGE_KEY) if b"|bench|" in f])


if __name__ == "__main__":
    main()
