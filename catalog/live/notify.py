"""Wake-ups of live readers over Redis pub/sub: an append publishes `live:<table_id>` (its last seq) after
commit; streams (transactions.livefeed) subscribe and fall back to polling PostgreSQL if Redis is away."""

import logging
import threading

import redis
from django.conf import settings

logger = logging.getLogger(__name__)
_local = threading.local()


def channel(table_id: int) -> str:
    return f"live:{table_id}"


def client() -> redis.Redis:
    """A Redis client of this thread (REDIS_URL), made once."""
    conn = getattr(_local, "client", None)
    if conn is None:
        conn = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
        _local.client = conn
    return conn


def publish(table_id: int, last_seq: int) -> None:
    """Tell the readers of the table; a Redis failure is logged, never raised (readers poll as a fallback)."""
    try:
        client().publish(channel(table_id), str(last_seq))
    except redis.RedisError:
        logger.warning("live publish failed", extra={"table_id": table_id})
