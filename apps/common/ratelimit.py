"""A fixed one-minute window counted in Redis (`INCR` + `EXPIRE`), shared by every web worker.

A limiter fails open: if Redis cannot be reached, the request is allowed and the failure logged, and the limiter
stays quiet for a few seconds rather than paying a connect timeout per request. Admission, usage recording and
the Admin API are the product; a rate limiter must never be the reason they stop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
# After a Redis failure, skip the limiter for this long rather than paying a connect timeout per request.
BACKOFF_SECONDS = 5.0


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    retry_after: int = 0


class FixedWindowLimiter:
    """At most `limit()` requests per subject per calendar minute (UTC); the next one is refused with the
    seconds to the next window. `limit()` ≤ 0 turns the limiter off."""

    def __init__(self, *, namespace: Callable[[], str], limit: Callable[[], int]):
        self._namespace = namespace
        self._limit = limit
        self._lock = threading.Lock()
        self._client: redis.Redis | None = None
        self._client_url: str | None = None
        self._down_until = 0.0

    def _redis(self) -> redis.Redis:
        url = settings.REDIS_URL
        with self._lock:
            if self._client is None or self._client_url != url:
                self._client = redis.Redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=0.25)
                self._client_url = url
            return self._client

    def reset(self) -> None:
        """Forget the client and any back-off (tests switch REDIS_URL)."""
        with self._lock:
            self._client, self._client_url, self._down_until = None, None, 0.0

    def hit(self, subject: str, *, now: float | None = None) -> RateDecision:
        """Count one request for the subject in the current window and say whether it may proceed."""
        limit = int(self._limit())
        if limit <= 0:
            return RateDecision(True, limit)
        now = time.time() if now is None else now
        if now < self._down_until:
            return RateDecision(True, limit)
        window = int(now // WINDOW_SECONDS)
        counter = f"{self._namespace()}:{subject}:{window}"
        try:
            pipe = self._redis().pipeline(transaction=False)
            pipe.incr(counter)
            pipe.expire(counter, WINDOW_SECONDS * 2)
            count, _ = pipe.execute()
        except redis.RedisError:
            self._down_until = now + BACKOFF_SECONDS
            logger.warning("rate limiter %s: Redis unavailable, allowing requests (fail open)",
                           self._namespace(), exc_info=True)
            return RateDecision(True, limit)
        if count > limit:
            retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))
            return RateDecision(False, limit, retry_after)
        return RateDecision(True, limit)
