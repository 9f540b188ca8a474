"""TEMP contract shim (issue 16): the metering helper's real metering.py replaces this file."""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from core.http import client_ip


@dataclass
class Grant:
    key: str
    limit: int
    remaining: int
    reset: int
    window: str
    plan_id: int | None
    organization_id: int | None


class RateLimited(Exception):
    def __init__(self, retry_after: int, grant: Grant):
        super().__init__("rate limited")
        self.retry_after = retry_after
        self.grant = grant


def admit(*, request, access, dataset) -> Grant:
    limit = int(getattr(settings, "DATA_API_DEFAULT_DAILY_QUOTA", 1000))
    who = f"org:{access.organization.pk}" if access.organization else f"ip:{client_ip(request) or 'unknown'}"
    day = int(time.time() // 86400)
    key = f"data-api-shim:{who}:{day}"
    cache.add(key, 0, timeout=86400 + 60)
    used = cache.incr(key)
    reset = (day + 1) * 86400
    grant = Grant(key, limit, max(0, limit - used), reset, "day", None, getattr(access.organization, "pk", None))
    if used > limit:
        raise RateLimited(max(1, reset - int(time.time())), grant)
    return grant


def finish(grant: Grant, *, dataset_id: int, table: str, status: int, nbytes: int) -> None:
    return None


def rate_headers(grant: Grant) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(grant.limit),
        "X-RateLimit-Remaining": str(grant.remaining),
        "X-RateLimit-Reset": str(grant.reset),
    }
