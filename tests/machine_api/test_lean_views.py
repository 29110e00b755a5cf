"""Admission and single-event usage are served by lean Django views in front of their django-ninja operations
(apps/machine_api/api.py). Whatever a client sends, the answer is the one the ninja operation gives: same
status, same Content-Type, same JSON body, same headers that matter (Retry-After, Allow)."""

import json

import pytest
from django.test import Client

from apps.machine_api.ratelimit import rate_limit_reset
from apps.usage.models import UsageEvent

from .conftest import usage_body

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.machine_api.ninja_only_urls")]

ADMISSION = {"member": "dev@example.com", "product": "chat", "model": "claude-sonnet-4-5"}


def _send(client: Client, path: str, body, *, auth, content_type="application/json", method="post"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    headers = {"HTTP_AUTHORIZATION": auth} if auth is not None else {}
    if method == "get":
        return client.get(path, **headers)
    return client.post(path, data=data, content_type=content_type, **headers)


def _same_answer(served, bare):
    assert served.status_code == bare.status_code, (served.content, bare.content)
    assert served["Content-Type"] == bare["Content-Type"]
    for header in ("Retry-After", "Allow"):
        assert served.get(header) == bare.get(header)
    return served


def _both(key, endpoint, body, **kwargs):
    client = Client()
    served = _send(client, f"/api/v1/{endpoint}", body, **kwargs)
    bare = _send(client, f"/ninja/{endpoint}", body, **kwargs)
    return _same_answer(served, bare), bare


ADMISSION_CASES = [
    pytest.param(ADMISSION, {}, id="allowed"),
    pytest.param({**ADMISSION, "model": "claude-unknown-9"}, {}, id="unknown-model"),
    pytest.param({**ADMISSION, "member": "nobody@example.com"}, {}, id="not-a-member"),
    pytest.param({**ADMISSION, "product": "browser"}, {}, id="bad-product"),
    pytest.param({**ADMISSION, "member": "a\u0000b@example.com"}, {}, id="nul"),
    pytest.param([ADMISSION], {}, id="a-list"),
    pytest.param("{not json", {}, id="not-json"),
    pytest.param(ADMISSION, {"content_type": "text/plain"}, id="wrong-content-type"),
    pytest.param(ADMISSION, {"auth": "Bearer wrong"}, id="wrong-key"),
    pytest.param({**ADMISSION, "model": ""}, {"auth": "Bearer wrong"}, id="wrong-key-bad-body"),
    pytest.param(ADMISSION, {"auth": None}, id="no-key"),
    pytest.param(ADMISSION, {"auth": "Basic abc"}, id="other-scheme"),
    pytest.param(ADMISSION, {"method": "get"}, id="wrong-method"),
]


@pytest.mark.parametrize("body,kwargs", ADMISSION_CASES)
def test_admission_answers_as_the_ninja_operation(usage_org, body, kwargs):
    _, _, api_client = usage_org
    kwargs = {"auth": f"Bearer {api_client.key}", **kwargs}
    served, bare = _both(api_client.key, "admission", body, **kwargs)
    assert served.content == bare.content


USAGE_CASES = [
    pytest.param(usage_body("k1", model="claude-unknown-9"), {}, id="unknown-model"),
    pytest.param(usage_body("k1", email="nobody@example.com"), {}, id="not-a-member"),
    pytest.param({**usage_body("k1"), "usage": {"input_tokens": -1, "output_tokens": 1}}, {}, id="bad-tokens"),
    pytest.param(usage_body("k1", occurred_at="2020-01-01T00:00:00"), {}, id="naive-time"),
    pytest.param(usage_body("k\u00001"), {}, id="nul"),
    pytest.param("[]", {}, id="a-list"),
    pytest.param(usage_body("k1"), {"content_type": "application/x-www-form-urlencoded"}, id="form"),
    pytest.param(usage_body("k1"), {"auth": "Bearer wrong"}, id="wrong-key"),
    pytest.param(usage_body("k1"), {"auth": None}, id="no-key"),
    pytest.param(usage_body("k1"), {"method": "get"}, id="wrong-method"),
]


@pytest.mark.parametrize("body,kwargs", USAGE_CASES)
def test_refused_usage_answers_as_the_ninja_operation_and_writes_nothing(usage_org, body, kwargs):
    _, _, api_client = usage_org
    kwargs = {"auth": f"Bearer {api_client.key}", **kwargs}
    served, bare = _both(api_client.key, "usage", body, **kwargs)
    assert served.content == bare.content
    assert UsageEvent.objects.count() == 0


def test_recorded_usage_answers_as_the_ninja_operation(usage_org):
    """New (201), retried (200, the first answer) and reused with another body (409), through both."""
    _, membership, api_client = usage_org
    auth = f"Bearer {api_client.key}"
    client = Client()
    for prefix in ("/api/v1", "/ninja"):
        key = f"{prefix}-k1"
        first = _send(client, f"{prefix}/usage", usage_body(key), auth=auth)
        retry = _send(client, f"{prefix}/usage", usage_body(key), auth=auth)
        reused = _send(client, f"{prefix}/usage", usage_body(key, input_tokens=7), auth=auth)
        assert [first.status_code, retry.status_code, reused.status_code] == [201, 200, 409]
        assert retry.json() == first.json()
        assert first["Content-Type"] == "application/json"
        assert reused.json()["error"]["type"] == "idempotency_conflict"
    assert UsageEvent.objects.filter(membership=membership).count() == 2


def test_rate_limited_requests_are_refused_alike(usage_org, settings):
    _, _, api_client = usage_org
    settings.MACHINE_API_RATE_LIMIT_PER_MINUTE = 2
    rate_limit_reset()
    auth = f"Bearer {api_client.key}"
    client = Client()
    answers = [_send(client, "/api/v1/admission", ADMISSION, auth=auth) for _ in range(3)]
    answers.append(_send(client, "/api/v1/usage", usage_body("k9"), auth=auth))
    bare = _send(client, "/ninja/admission", ADMISSION, auth=auth)
    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    _same_answer(answers[2], bare)
    assert answers[2].json() == bare.json()
    assert UsageEvent.objects.count() == 0
    rate_limit_reset()
