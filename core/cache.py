"""Django's Redis cache, with one redis.Redis client per connection pool instead of one per cache call.

django.core.cache.backends.redis builds a new redis.Redis for every get, set or get_many, and redis-py's constructor
fills a table of ~170 response callbacks each time: a catalog page's ~10 cache calls cost ~0.3 ms of Python that way
(bench/unseen.py's profile: 2,035 constructors for 200 requests). A Redis client holds no connection of its own (it
borrows one from the pool per command, and the pool is fork-safe), so one per pool serves every call; Django keeps a
cache object per thread, so it is not even shared between threads."""

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
