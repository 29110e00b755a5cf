"""Per-key rate limit of the machine API.

Business rule: one machine API key may make at most MACHINE_API_RATE_LIMIT_PER_MINUTE requests per calendar
minute (UTC); the next one is answered 429 with a Retry-After header (seconds to the next window) and a JSON
error naming the limit. The default is far above what real products send, so it only stops a runaway client.
It fails open when Redis is down (apps/common/ratelimit.py).
"""

from __future__ import annotations

from django.conf import settings

from apps.common.ratelimit import FixedWindowLimiter, RateDecision

machine_api_limiter = FixedWindowLimiter(
    namespace=lambda: "bp:rl", limit=lambda: settings.MACHINE_API_RATE_LIMIT_PER_MINUTE
)


def rate_limit_hit(*, key_id: str, now: float | None = None) -> RateDecision:
    return machine_api_limiter.hit(key_id, now=now)


def rate_limit_reset() -> None:
    machine_api_limiter.reset()
