"""The Admin API's rate limit: one shared budget per organization across all its endpoints.

Business rule: an organization's Admin API keys together make at most ADMIN_API_RATE_LIMIT_PER_MINUTE requests
(default 60) per calendar minute (UTC); the next one is answered 429 `rate_limit_error` with `retry-after`
(seconds to the next window). A fixed window counted in Redis (`INCR` + `EXPIRE`), shared by every web worker.

The limiter fails open: if Redis cannot be reached the request is served and the failure logged, and the
limiter stays quiet for a few seconds rather than paying a connect timeout per request.
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


def rate_limit_hit(*, organization_id: int, now: float | None = None) -> RateDecision:
    """Count one request for the organization in the current window and say whether it may proceed."""
    global _down_until
    limit = getattr(settings, "ADMIN_API_RATE_LIMIT_PER_MINUTE", 60)
    now = time.time() if now is None else now
    if now < _down_until:
        return RateDecision(True, limit)
    window = int(now) // WINDOW_SECONDS
    namespace = getattr(settings, "ADMIN_API_RATE_LIMIT_NAMESPACE", "admin_api:rl")
    key = f"{namespace}:{organization_id}:{window}"
    try:
        pipe = _redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS + 5)
        count, _ = pipe.execute()
    except redis.RedisError:
        logger.warning("Admin API rate limiter unavailable; serving without it", exc_info=True)
        _down_until = now + _BACKOFF_SECONDS
        return RateDecision(True, limit)
    if count > limit:
        retry_after = max(1, (window + 1) * WINDOW_SECONDS - int(now))
        return RateDecision(False, limit, retry_after)
    return RateDecision(True, limit)
