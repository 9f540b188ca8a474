"""Counting data-API calls (issue 16): quotas and rate limits in Redis, usage counters for the bills and pages.

Every call goes `data_access → admit → (the query) → finish`:

- `admit` runs ONE Redis Lua script that counts the call in its window and refuses it over the limit, atomically
  (50 clients at once at a quota of 1,000 get exactly 1,000 through): the development plan and the default
  allowance count calls per day (Asia/Seoul; the default allowance `DATA_API_DEFAULT_DAILY_QUOTA` per
  organization, or per client IP when anonymous), a subscription its calls per minute (`rate_limit_per_minute`),
  a metered plan its calls per month against the calls its monthly cap pays for (cap × 1,000 / price, rounded
  down). A refused call is not counted. A metered plan's month counter missing from Redis (a new month, or Redis
  lost its data) is seeded from the persisted usage before counting on, so a Redis restart cannot lift the cap.
- `finish` adds the call to the usage counters (calls, errors = status ≥ 400, bytes) per (organization or
  anonymous, plan, dataset, table, day) in one Redis hash; `transactions.apiplans.services.usage_flush` (beat,
  every minute) renames the hash and persists it to ApiUsage exactly once.
- `rate_headers` gives X-RateLimit-Limit / -Remaining / -Reset (epoch seconds); a refusal raises `RateLimited`
  (429 with Retry-After).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import redis
from django.conf import settings
from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from catalog.models import OfferKind
from core.errors import DomainError
from core.http import client_ip
from core.text import lazy_percent

SEOUL = ZoneInfo("Asia/Seoul")
USAGE_KEY = "dapi:usage"  # the hash finish() adds to; usage_flush renames it before persisting
PENDING_KEY = "dapi:usage:pending"  # renamed hashes not yet deleted (persisted or about to be)

_ADMIT = """
local limit = tonumber(ARGV[1])
local expire_at = tonumber(ARGV[2])
local seed = tonumber(ARGV[3])
local current = redis.call('GET', KEYS[1])
if not current then
  if seed < 0 then return {-1, 0} end
  redis.call('SET', KEYS[1], seed)
  redis.call('EXPIREAT', KEYS[1], expire_at)
  current = seed
else
  current = tonumber(current)
end
if current >= limit then return {0, current} end
return {1, redis.call('INCR', KEYS[1])}
"""

_FINISH = """
redis.call('HINCRBY', KEYS[1], ARGV[1] .. '|c', 1)
if tonumber(ARGV[2]) >= 400 then redis.call('HINCRBY', KEYS[1], ARGV[1] .. '|e', 1) end
if tonumber(ARGV[3]) > 0 then redis.call('HINCRBY', KEYS[1], ARGV[1] .. '|b', ARGV[3]) end
return 1
"""

logger = logging.getLogger(__name__)
_local = threading.local()
_lock = threading.Lock()
_client: redis.Redis | None = None


def client() -> redis.Redis:
    """The Redis client of the metering (one connection pool per process)."""
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = redis.Redis.from_url(settings.DATA_API_REDIS_URL or settings.REDIS_URL)
    return _client


def _scripts():
    scripts = getattr(_local, "scripts", None)
    if scripts is None or scripts[0] is not client():
        r = client()
        scripts = _local.scripts = (r, r.register_script(_ADMIT), r.register_script(_FINISH))
    return scripts


@dataclass
class Grant:
    key: str
    limit: int
    remaining: int
    reset: int  # epoch seconds: when the window ends
    window: str  # "day" | "month" | "minute"
    plan_id: int | None
    organization_id: int | None
    usage_owner: str = ""  # who the usage counts for: "<organization id>" or "" (anonymous)


class RateLimited(DomainError):
    """The call is over its plan's limit: answer 429 with Retry-After and the X-RateLimit headers."""

    def __init__(self, message, *, grant: Grant, retry_after: int, code: str = "rate_limited"):
        super().__init__(message, code=code)
        self.grant = grant
        self.retry_after = max(1, int(retry_after))
        self.status_code = 429

    def headers(self) -> dict[str, str]:
        return {**rate_headers(self.grant), "Retry-After": str(self.retry_after)}


class MeteringUnavailable(DomainError):
    """The counter (Redis) cannot be reached: a call that cannot be counted is not served (503), rather than served
    uncounted past its quota or answered with a bare server error."""

    status = 503

    def __init__(self):
        super().__init__(
            _("Calls cannot be counted right now, so the data API is paused. Try again in a minute."),
            code="metering_unavailable",
        )


def rate_headers(grant: Grant) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(grant.limit),
        "X-RateLimit-Remaining": str(max(0, grant.remaining)),
        "X-RateLimit-Reset": str(grant.reset),
    }


def _window(kind: str, now: datetime) -> tuple[str, int]:
    """(window id, epoch second it ends) of the window `now` is in (Asia/Seoul calendar for days and months)."""
    local = now.astimezone(SEOUL)
    if kind == "minute":
        start = local.replace(second=0, microsecond=0)
        return start.strftime("%Y%m%d%H%M"), int((start + timedelta(minutes=1)).timestamp())
    if kind == "month":
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = (start + timedelta(days=32)).replace(day=1)
        return start.strftime("%Y%m"), int(following.timestamp())
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.strftime("%Y%m%d"), int((start + timedelta(days=1)).timestamp())


def _plan_limit(plan) -> tuple[str, int]:
    if plan.kind == OfferKind.API_SUBSCRIPTION:
        return "minute", int(plan.rate_limit_per_minute or 0)
    if plan.kind == OfferKind.API_METERED:
        return "month", int(plan.monthly_call_cap or 0)
    return "day", int(plan.daily_quota or 0)


def _month_seed(plan, now: datetime) -> int:
    """The calls of the plan persisted this month (Asia/Seoul): where a lost month counter starts again."""
    # Imported here: the usage model is only needed on the rare path where the counter is missing.
    from transactions.apiplans.models import ApiUsage

    local = now.astimezone(SEOUL).date()
    total = ApiUsage.objects.filter(plan_id=plan.pk, day__gte=local.replace(day=1), day__lte=local).aggregate(
        n=Sum("calls")
    )["n"]
    return int(total or 0)


def admit(*, request, access, dataset) -> Grant:
    """Count the call against its limit, or raise RateLimited (nothing counted). `access` is the caller's
    transactions.dataapi.access.DataAccess (its plan meters the call; none: the default allowance)."""
    now = datetime.now(tz=SEOUL)
    plan = access.plan
    organization_id = access.organization.pk if access.organization is not None else None
    if plan is not None:
        window, limit = _plan_limit(plan)
        window_id, reset = _window(window, now)
        key = f"dapi:q:{window}:{window_id}:plan:{plan.pk}"
    else:
        window, limit = "day", int(settings.DATA_API_DEFAULT_DAILY_QUOTA)
        window_id, reset = _window(window, now)
        who = f"org:{organization_id}" if organization_id is not None else f"ip:{client_ip(request) or 'unknown'}"
        key = f"dapi:q:day:{window_id}:{who}"
    try:
        _r, script, _finish = _scripts()
        seed = -1 if window == "month" else 0
        admitted, count = script(keys=[key], args=[limit, reset + 60, seed])
        if admitted == -1:
            admitted, count = script(keys=[key], args=[limit, reset + 60, _month_seed(plan, now)])
    except redis.RedisError as exc:
        logger.warning("data API metering unavailable", exc_info=True)
        raise MeteringUnavailable() from exc
    grant = Grant(
        key=key,
        limit=limit,
        remaining=max(0, limit - int(count)),
        reset=reset,
        window=window,
        plan_id=plan.pk if plan is not None else None,
        organization_id=organization_id,
        usage_owner=str(organization_id) if organization_id is not None else "",
    )
    if not admitted:
        retry_after = reset - int(time.time())
        if window == "month":
            message = lazy_percent(
                _(
                    "Your organization's monthly cap of %(cap)s won for this metered plan is reached (%(calls)s "
                    "calls). Raise the cap on the API usage page, or wait until the next month."
                ),
                {"cap": f"{int(plan.monthly_cap_krw or 0):,}", "calls": f"{limit:,}"},
            )
            raise RateLimited(message, grant=grant, retry_after=retry_after, code="monthly_cap_reached")
        if window == "minute":
            message = lazy_percent(
                _("Too many calls: this plan allows %(limit)s calls a minute. Try again in %(seconds)s seconds."),
                {"limit": f"{limit:,}", "seconds": max(1, retry_after)},
            )
            raise RateLimited(message, grant=grant, retry_after=retry_after)
        message = lazy_percent(
            _(
                "The daily quota of %(limit)s calls is used up. It starts again at midnight (Korean time); "
                "take an API plan of the dataset for more."
            ),
            {"limit": f"{limit:,}"},
        )
        raise RateLimited(message, grant=grant, retry_after=retry_after, code="quota_exceeded")
    return grant


def usage_field(*, organization_id: int | None, plan_id: int | None, dataset_id: int, table: str, day: str) -> str:
    """The hash field prefix of one usage row: organization|plan|dataset|day|table (empty: none)."""
    return f"{organization_id or ''}|{plan_id or ''}|{dataset_id}|{day}|{table}"


def finish(grant: Grant, *, dataset_id: int, table: str, status: int, nbytes: int) -> None:
    """Add the answered call to the usage counters (one Redis round trip)."""
    day = datetime.now(tz=SEOUL).strftime("%Y-%m-%d")
    field = usage_field(
        organization_id=grant.organization_id, plan_id=grant.plan_id, dataset_id=dataset_id, table=table, day=day
    )
    try:
        _r, _admit, script = _scripts()
        script(keys=[USAGE_KEY], args=[field, int(status), max(0, int(nbytes))])
    except redis.RedisError:
        # The call was admitted (counted against its quota) and answered; only its usage row is lost.
        logger.warning("data API usage not recorded", exc_info=True)


def window_used(grant_key: str) -> int:
    """How many calls the window counter holds now (0 when it has none): for the usage pages."""
    value = client().get(grant_key)
    return int(value or 0)


def quota_status(*, plan, organization_id: int | None) -> dict:
    """The limit, what is used and what is left in the current window of a plan (None: the organization's default
    allowance), read without counting anything."""
    now = datetime.now(tz=SEOUL)
    if plan is not None:
        window, limit = _plan_limit(plan)
        window_id, reset = _window(window, now)
        key = f"dapi:q:{window}:{window_id}:plan:{plan.pk}"
    else:
        window, limit = "day", int(settings.DATA_API_DEFAULT_DAILY_QUOTA)
        window_id, reset = _window(window, now)
        key = f"dapi:q:day:{window_id}:org:{organization_id}"
    used = window_used(key)
    return {"window": window, "limit": limit, "used": used, "remaining": max(0, limit - used), "reset": reset}
