"""The machine API is rate-limited per key (fixed window in Redis), and the limiter fails open without Redis."""

import datetime as dt

import pytest
import time_machine

from apps.usage.models import UsageEvent
from tests.conftest import ApiClient
from tests.factories import OrganizationFactory, api_key, member

pytestmark = pytest.mark.django_db

ADMISSION = {"member": "rl@example.com", "product": "chat", "model": "claude-sonnet-4-5"}
MID_MINUTE = dt.datetime(2026, 3, 10, 12, 0, 20, tzinfo=dt.UTC)


def _usage(key: str) -> dict:
    return {"idempotency_key": key, "member": "rl@example.com", "product": "chat", "model": "claude-sonnet-4-5",
            "usage": {"input_tokens": 10, "output_tokens": 5}}


def test_key_over_its_limit_gets_429_with_retry_after_and_a_named_error(settings):
    settings.MACHINE_API_RATE_LIMIT_PER_MINUTE = 3
    org = OrganizationFactory()
    member(org, email="rl@example.com")
    client = ApiClient(api_key(org))
    with time_machine.travel(MID_MINUTE, tick=False):
        statuses = [client.post("/admission", ADMISSION).status_code for _ in range(3)]
        refused = client.post("/admission", ADMISSION)
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused["Retry-After"] == "40"
    error = refused.json()["error"]
    assert error["type"] == "rate_limit_error"
    assert "3 requests this minute" in error["message"]


def test_refused_usage_is_not_recorded_and_the_next_window_admits_again(settings):
    settings.MACHINE_API_RATE_LIMIT_PER_MINUTE = 1
    org = OrganizationFactory()
    member(org, email="rl@example.com")
    client = ApiClient(api_key(org))
    with time_machine.travel(MID_MINUTE, tick=False):
        assert client.post("/usage", _usage("a")).status_code == 201
        assert client.post("/usage", _usage("b")).status_code == 429
    assert list(UsageEvent.objects.values_list("idempotency_key", flat=True)) == ["a"]
    with time_machine.travel(MID_MINUTE + dt.timedelta(minutes=1), tick=False):
        assert client.post("/usage", _usage("b")).status_code == 201


def test_limit_is_per_key_so_one_busy_key_does_not_block_another(settings):
    settings.MACHINE_API_RATE_LIMIT_PER_MINUTE = 1
    org = OrganizationFactory()
    member(org, email="rl@example.com")
    busy, other = ApiClient(api_key(org)), ApiClient(api_key(org))
    with time_machine.travel(MID_MINUTE, tick=False):
        assert busy.post("/admission", ADMISSION).status_code == 200
        assert busy.post("/admission", ADMISSION).status_code == 429
        assert other.post("/admission", ADMISSION).status_code == 200


def test_limiter_fails_open_when_redis_is_down(settings, caplog):
    settings.MACHINE_API_RATE_LIMIT_PER_MINUTE = 1
    settings.REDIS_URL = "redis://127.0.0.1:6399/0"  # nothing listens there
    org = OrganizationFactory()
    member(org, email="rl@example.com")
    client = ApiClient(api_key(org))
    statuses = [client.post("/admission", ADMISSION).status_code for _ in range(3)]
    statuses.append(client.post("/usage", _usage("down")).status_code)
    assert statuses == [200, 200, 200, 201]
    assert UsageEvent.objects.filter(idempotency_key="down").count() == 1
    assert "fail open" in caplog.text
