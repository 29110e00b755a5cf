"""The Admin API's rate limit: one shared budget per organization across all its endpoints.

Business rule: an organization's Admin API keys together make at most ADMIN_API_RATE_LIMIT_PER_MINUTE requests
(default 60) per calendar minute (UTC); the next one is answered 429 `rate_limit_error` with `retry-after`
(seconds to the next window). It fails open when Redis is down (apps/common/ratelimit.py).
"""

from __future__ import annotations

from django.conf import settings

from apps.common.ratelimit import FixedWindowLimiter, RateDecision

admin_api_limiter = FixedWindowLimiter(
    namespace=lambda: getattr(settings, "ADMIN_API_RATE_LIMIT_NAMESPACE", "admin_api:rl"),
    limit=lambda: getattr(settings, "ADMIN_API_RATE_LIMIT_PER_MINUTE", 60),
)


def rate_limit_hit(*, organization_id: int, now: float | None = None) -> RateDecision:
    return admin_api_limiter.hit(str(organization_id), now=now)
