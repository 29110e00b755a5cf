"""The fixed-window limiter: exact below 1,000 a minute, reported to Redis in small batches above."""

import uuid

import pytest
import redis
from django.conf import settings

from apps.common.ratelimit import FixedWindowLimiter

WINDOW_START = 1_800_000_000.0  # a minute boundary (divisible by 60)


def _limiter(limit: int) -> tuple[FixedWindowLimiter, str]:
    namespace = f"bp:test-rl:{uuid.uuid4().hex}"
    return FixedWindowLimiter(namespace=lambda: namespace, limit=lambda: limit), namespace


def _redis_count(namespace: str, subject: str, now: float) -> int:
    value = redis.Redis.from_url(settings.REDIS_URL).get(f"{namespace}:{subject}:{int(now // 60)}")
    return int(value or 0)


def test_small_limit_counts_every_request_in_redis_and_refuses_the_next_one():
    limiter, namespace = _limiter(5)
    decisions = [limiter.hit("key", now=WINDOW_START + 1) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert decisions[-1].retry_after == 59
    assert _redis_count(namespace, "key", WINDOW_START + 1) == 6


def test_large_limit_reports_to_redis_in_batches_of_a_thousandth_of_the_limit():
    limiter, namespace = _limiter(10_000)  # batches of 10
    for _ in range(25):
        assert limiter.hit("key", now=WINDOW_START + 1).allowed
    assert _redis_count(namespace, "key", WINDOW_START + 1) == 20  # two full batches; five not yet reported


def test_unreported_requests_are_sent_within_a_quarter_second():
    limiter, namespace = _limiter(10_000)
    for _ in range(3):
        limiter.hit("key", now=WINDOW_START + 1)
    limiter.hit("key", now=WINDOW_START + 1.3)
    assert _redis_count(namespace, "key", WINDOW_START + 1) == 4


def test_large_limit_refuses_once_every_process_together_passed_it():
    limit = 2_000  # batches of 2
    first, namespace = _limiter(limit)
    second = FixedWindowLimiter(namespace=lambda: namespace, limit=lambda: limit)  # another worker process
    for _ in range(limit // 2):
        first.hit("key", now=WINDOW_START + 1)
        second.hit("key", now=WINDOW_START + 1)
    assert _redis_count(namespace, "key", WINDOW_START + 1) == limit
    # Within one batch more, the report to Redis shows the limit passed and the request is refused.
    extra = [first.hit("key", now=WINDOW_START + 2) for _ in range(2)]
    assert not extra[-1].allowed and extra[-1].retry_after == 58
    # The next window starts from zero.
    assert first.hit("key", now=WINDOW_START + 61).allowed


@pytest.mark.parametrize("limit", [0, -1])
def test_limit_of_zero_or_less_turns_the_limiter_off(limit):
    limiter, namespace = _limiter(limit)
    assert all(limiter.hit("key", now=WINDOW_START).allowed for _ in range(3))
    assert _redis_count(namespace, "key", WINDOW_START) == 0
