"""A fixed one-minute window counted in Redis (`INCRBY` + `EXPIRE`), shared by every web worker.

Below 1,000 requests a minute every request is counted in Redis before it is answered, so the limit is exact.
Above, a worker process counts locally and reports to Redis when one subject reaches `limit // 1000`
unreported requests or a quarter of a second has passed (then every subject's count, in one pipeline): a
Redis round trip per request would cost the machine API's hot path about a tenth of its throughput (make
bench), and a limit of 600,000 a minute can then be passed by at most 0.1% per worker process, plus what one
quarter second brings, which only matters to a runaway client anyway.

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
from axes.helpers import get_client_ip_address
from django.conf import settings

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
# After a Redis failure, skip the limiter for this long rather than paying a connect timeout per request.
BACKOFF_SECONDS = 5.0
# A worker's unreported count goes to Redis at least this often.
REPORT_INTERVAL_SECONDS = 0.25
# Limits below this are counted in Redis on every request.
EXACT_BELOW = 1000


@dataclass
class _LocalCount:
    """This process's view of one subject in one window: the total Redis last returned, and what it has not
    reported yet."""

    window: int
    known: int = 0
    unreported: int = 0


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    retry_after: int = 0


class FixedWindowLimiter:
    """At most `limit()` requests per subject per calendar minute (UTC); the next one is refused with the
    seconds to the next window. `limit()` ≤ 0 turns the limiter off."""

    def __init__(self, *, namespace: Callable[[], str], limit: Callable[[], int],
                 window_seconds: Callable[[], int] = lambda: WINDOW_SECONDS):
        self._namespace = namespace
        self._limit = limit
        self._window_seconds = window_seconds
        self._lock = threading.Lock()
        self._client: redis.Redis | None = None
        self._client_url: str | None = None
        self._down_until = 0.0
        self._local: dict[str, _LocalCount] = {}
        self._local_window = 0
        self._reported_at = 0.0

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
            self._local = {}

    def hit(self, subject: str, *, now: float | None = None) -> RateDecision:
        """Count one request for the subject in the current window and say whether it may proceed."""
        limit = int(self._limit())
        if limit <= 0:
            return RateDecision(True, limit)
        now = time.time() if now is None else now
        if now < self._down_until:
            return RateDecision(True, limit)
        seconds = int(self._window_seconds())
        window = int(now // seconds)
        batch = max(1, limit // EXACT_BELOW)
        # Local counts are kept per namespace too: a namespace that changes (each test has its own) starts at zero.
        namespace = self._namespace()
        subject = f"{namespace}:{subject}"
        with self._lock:
            if window != self._local_window:  # a new minute: forget every subject's count
                self._local, self._local_window, self._reported_at = {}, window, now
            local = self._local.get(subject)
            if local is None:
                local = self._local[subject] = _LocalCount(window)
            local.unreported += 1
            if local.unreported < batch and now - self._reported_at < REPORT_INTERVAL_SECONDS:
                return self._decision(local.known + local.unreported, limit, window, now, seconds)
            # Report every subject's unreported count in one pipeline.
            reports = {name: count for name, count in self._local.items() if count.unreported}
            amounts = {name: count.unreported for name, count in reports.items()}
            for count in reports.values():
                count.unreported = 0
            self._reported_at = now
        try:
            pipe = self._redis().pipeline(transaction=False)
            for name, amount in amounts.items():
                counter = f"{name}:{window}"
                pipe.incrby(counter, amount)
                pipe.expire(counter, seconds * 2)
            totals = pipe.execute()[::2]
        except redis.RedisError:
            self._down_until = now + BACKOFF_SECONDS
            logger.warning("rate limiter %s: Redis unavailable, allowing requests (fail open)",
                           namespace, exc_info=True)
            return RateDecision(True, limit)
        with self._lock:
            for count, total in zip(reports.values(), totals, strict=True):
                count.known = max(count.known, total)
        return self._decision(local.known, limit, window, now, seconds)

    @staticmethod
    def _decision(count: int, limit: int, window: int, now: float, seconds: int = WINDOW_SECONDS) -> RateDecision:
        if count > limit:
            retry_after = max(1, int((window + 1) * seconds - now + 0.999))
            return RateDecision(False, limit, retry_after)
        return RateDecision(True, limit)


class ClientThrottle:
    """One kind of request (a login, a password reset, a SCIM call, an OIDC callback), limited per account and per
    client address: two fixed windows (the limiter above), with the limits and window of THROTTLE_LIMITS[scope],
    e.g. {"window": 60, "account": 20, "address": 60}. The client address is django-axes' (the same one its
    login lockout counts), so both mechanisms see one address."""

    def __init__(self, scope: str):
        self.scope = scope
        self.per_account = self._limiter("account")
        self.per_address = self._limiter("address")

    def _limiter(self, kind: str) -> FixedWindowLimiter:
        return FixedWindowLimiter(
            namespace=lambda: f"{getattr(settings, 'THROTTLE_NAMESPACE', 'bp:throttle')}:{self.scope}:{kind}",
            limit=lambda: settings.THROTTLE_LIMITS[self.scope][kind],
            window_seconds=lambda: settings.THROTTLE_LIMITS[self.scope]["window"],
        )

    def hit(self, *, request, account: str | None) -> RateDecision:
        """Count this request for its client address and (when known) its account; refused when either is over
        its limit (then retry_after is the longer wait)."""
        decisions = [self.per_address.hit(get_client_ip_address(request) or "unknown")]
        if account:
            decisions.append(self.per_account.hit(account.strip().lower()))
        refused = [decision for decision in decisions if not decision.allowed]
        return max(refused, key=lambda decision: decision.retry_after) if refused else decisions[0]

    def reset(self) -> None:
        self.per_account.reset()
        self.per_address.reset()
