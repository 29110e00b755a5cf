"""Per-key rate limit of the machine API: a fixed one-minute window counted in Redis.

Business rule: one machine API key may make at most MACHINE_API_RATE_LIMIT_PER_MINUTE requests per calendar
minute (UTC); the next one is answered 429 with a Retry-After header (seconds to the next window) and a JSON
error naming the limit. The default is far above what real products send, so it only stops a runaway client.

The limiter fails open: if Redis cannot be reached, the request is allowed and the failure logged. Admission
and usage recording are the product; a rate limiter must never be the reason they stop. After a failure the
limiter stays quiet for a few seconds (no connection attempt per request while Redis is down).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
# After a Redis failure, skip the limiter for this long rather than paying a connect timeout per request.
_BACKOFF_SECONDS = 5.0

_lock = threading.Lock()
_client: redis.Redis | None = None
_client_url: str | None = None
_down_until = 0.0


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    retry_after: int = 0


def _redis() -> redis.Redis:
    global _client, _client_url
    url = settings.REDIS_URL
    with _lock:
        if _client is None or _client_url != url:
            _client = redis.Redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=0.25)
            _client_url = url
        return _client


def rate_limit_reset() -> None:
    """Forget the client and any back-off (tests switch REDIS_URL)."""
    global _client, _client_url, _down_until
    with _lock:
        _client, _client_url, _down_until = None, None, 0.0


def rate_limit_hit(*, key_id: str, now: float | None = None) -> RateDecision:
    """Count one request for the key in the current window and say whether it may proceed."""
    global _down_until
    limit = int(settings.MACHINE_API_RATE_LIMIT_PER_MINUTE)
    if limit <= 0:
        return RateDecision(True, limit)
    now = time.time() if now is None else now
    if now < _down_until:
        return RateDecision(True, limit)
    window = int(now // WINDOW_SECONDS)
    counter = f"bp:rl:{key_id}:{window}"
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.incr(counter)
        pipe.expire(counter, WINDOW_SECONDS * 2)
        count, _ = pipe.execute()
    except redis.RedisError:
        _down_until = now + _BACKOFF_SECONDS
        logger.warning("rate limiter: Redis unavailable, allowing requests (fail open)", exc_info=True)
        return RateDecision(True, limit)
    if count > limit:
        retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))
        return RateDecision(False, limit, retry_after)
    return RateDecision(True, limit)
