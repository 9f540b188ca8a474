"""Django's Redis cache, with one redis.Redis client per connection pool instead of one per cache call; and
spend_per_second, a budget per second shared by every process through the cache.

django.core.cache.backends.redis builds a new redis.Redis for every get, set or get_many, and redis-py's constructor
fills a table of ~170 response callbacks each time: a catalog page's ~10 cache calls cost ~0.3 ms of Python that way
(bench/unseen.py's profile: 2,035 constructors for 200 requests). A Redis client holds no connection of its own (it
borrows one from the pool per command, and the pool is fork-safe), so one per pool serves every call; Django keeps a
cache object per thread, so it is not even shared between threads."""

import time

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None or client.connection_pool is not pool:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient


def spend_per_second(name: str, amount: int, per_second: int):
    """Spend `amount` of a budget of `per_second` units a second, shared by every process and node (a counter per
    second in the cache, kept 5 seconds): None, and nothing spent, when this second's budget cannot hold it; else a
    function that gives the amount back (when the work it was spent on could not be started after all). The first
    spend of a second always fits (one larger than the whole budget still happens, at most once a second).
    per_second 0: no budget (never None). Background work that interactive requests ask for (catalog.discovery's
    exact counts) stays within a share of the machine however many requests ask at once. The cache is Redis
    (settings.CACHES): a per-process cache would give each process a budget of its own. (Not the page cache's
    marketplace.page_cache.within_budget, which caps the bytes of pages stored per PAGE_CACHE_SECONDS.)"""
    if per_second <= 0:
        return _nothing_to_give_back
    key = f"budget:{name}:{int(time.time())}"
    spent = _add_to_counter(key, amount)
    if spent <= per_second or spent == amount:
        return lambda: _add_to_counter(key, -amount, create=False)
    _add_to_counter(key, -amount, create=False)
    return None


def _nothing_to_give_back() -> None:
    pass


def _add_to_counter(key: str, amount: int, *, create: bool = True) -> int:
    """The counter `key` after adding `amount` (a counter of 5 seconds, made when there is none and `create`).
    Django's incr raises ValueError when the key is missing: a new second, or the counter expired or was flushed in
    between (its INCRBY then makes a counter without expiry, which the touch corrects)."""
    for _ in range(2):
        try:
            spent = cache.incr(key, amount)
        except ValueError:
            if not create:
                return 0
            if cache.add(key, amount, timeout=5):
                return amount
            continue  # another process made it meanwhile
        if spent == amount:  # made by this INCRBY: give it its expiry
            cache.touch(key, 5)
        return spent
    return amount  # the counter vanished twice under us: as if this were a new second
