"""Request limits per API key and per client address, answered with 429 and Retry-After.

A fixed window counted with Redis INCR (cache.add then cache.incr): atomic, so twenty requests at once cannot
all read the same count as DRF's SimpleRateThrottle (a read-modify-write of a list) would let them. Rates are
settings (`API_RATE_PER_TOKEN`, `API_RATE_PER_IP`, "<n>/<second|minute|hour|day>")."""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from core.http import client_ip

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    if not rate:
        return None
    count, _slash, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[0].lower()]


class _Window(BaseThrottle):
    setting = ""

    def key(self, request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view):
        rate = parse_rate(getattr(settings, self.setting, None))
        key = self.key(request)
        if rate is None or key is None:
            return True
        limit, period = rate
        now = time.time()
        window = int(now // period)
        cache_key = f"api-rate:{key}:{period}:{window}"
        cache.add(cache_key, 0, timeout=period + 1)
        try:
            used = cache.incr(cache_key)
        except ValueError:  # the key expired between add and incr: a new window
            cache.add(cache_key, 1, timeout=period + 1)
            used = 1
        self._wait = (window + 1) * period - now
        return used <= limit

    def wait(self):
        return getattr(self, "_wait", None)


class PerTokenThrottle(_Window):
    """Each API key's own budget (request.auth is the key when one was sent)."""

    setting = "API_RATE_PER_TOKEN"

    def key(self, request):
        token_id = getattr(request.auth, "pk", None)
        return f"token:{token_id}" if token_id else None


class PerIPThrottle(_Window):
    """Each client address's budget for requests without a key (anonymous and signed-in browsers)."""

    setting = "API_RATE_PER_IP"

    def key(self, request):
        if getattr(request.auth, "pk", None):
            return None
        return f"ip:{client_ip(request) or 'unknown'}"
