"""Hostile bodies for the machine API, generated with hypothesis: never a 5xx, never a partial write, and every
4xx is a JSON error naming the problem. Rows are counted before and after every request."""

import json
import string
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.db.models import Sum
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.organizations.models import PlanKind
from apps.usage.models import MemberPeriodUsage, OrgUsageSlot, UsageDailyRollup, UsageEvent
from tests.factories import OrganizationFactory, api_key, member

pytestmark = pytest.mark.django_db
FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

EMAIL = "dev@acme.example"
hostile_ints = st.one_of(
    st.integers(min_value=0, max_value=10_000), st.integers(min_value=-(10**40), max_value=-1),
    st.integers(min_value=10**8, max_value=10**40), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.5, 1.0, -0.0, 1e308, "12", "", None, True, [], {}, "1e3", "١٢"]),
)
hostile_text = st.one_of(
    st.text(max_size=300), st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "So"]), max_size=40),
    st.sampled_from([EMAIL, EMAIL.upper(), f" {EMAIL} ", f"{EMAIL}\x00", "dév@acme.example", "a@b", "x" * 5000,
                     "dev@acme.example\u202e", "\u0000", "' OR 1=1 --", "<script>"]),
    st.integers(), st.none(),
)
keys = st.one_of(st.text(min_size=1, max_size=60), st.text(alphabet=string.printable, max_size=250),
                 st.sampled_from(["k", "k\x00", "ключ", "🔑", " ", "a" * 201]))


def body_strategy():
    return st.fixed_dictionaries(
        {
            "idempotency_key": keys,
            "member": st.one_of(st.just(EMAIL), hostile_text),
            "product": st.sampled_from(["chat", "claude_code", "cowork", "CHAT", "", "api", None]),
            "model": st.sampled_from(["claude-sonnet-4-5", "claude-opus-4-1", "nope", "", "claude-sonnet-4-5\x00"]),
            "usage": st.one_of(
                st.fixed_dictionaries({"input_tokens": hostile_ints, "output_tokens": hostile_ints},
                                      optional={"cache_read_input_tokens": hostile_ints,
                                                "cache_creation_input_tokens": hostile_ints}),
                hostile_ints, st.text(max_size=5),
            ),
        },
        optional={"occurred_at": st.one_of(st.datetimes().map(lambda d: d.isoformat()), hostile_text)},
    )


def snapshot() -> tuple:
    return (
        UsageEvent.objects.count(),
        UsageEvent.objects.aggregate(s=Sum("cost"))["s"] or Decimal(0),
        MemberPeriodUsage.objects.aggregate(s=Sum("spend"))["s"] or Decimal(0),
        OrgUsageSlot.objects.aggregate(s=Sum("spend"))["s"] or Decimal(0),
        UsageDailyRollup.objects.aggregate(s=Sum("cost"))["s"] or Decimal(0),
    )


def assert_whole(before: tuple, after: tuple, response) -> None:
    """Either one whole event was added (201) or nothing at all; the counters always match the events."""
    assert response.status_code < 500, response.content[:300]
    added = after[0] - before[0]
    assert added == (1 if response.status_code == 201 else 0), (response.status_code, response.content[:300])
    assert after[1] == after[2] == after[3] == after[4], after
    if 400 <= response.status_code < 500:
        assert response["Content-Type"].startswith("application/json"), response.content[:200]
        error = json.loads(response.content)["error"]
        assert error["message"] and error["type"], error


@pytest.fixture
def key():
    org = OrganizationFactory(plan_kind=PlanKind.TEAM)
    member(org, email=EMAIL)
    return api_key(org)


def post(key: str, path: str, data, content_type="application/json"):
    return Client().post(f"/api/v1{path}", data=data, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {key}")


@FAST
@given(body=body_strategy())
def test_hostile_usage_bodies_never_5xx_nor_half_written(key, body):
    before = snapshot()
    try:
        raw = json.dumps(body)
    except (ValueError, TypeError):
        raw = json.dumps(body, default=str)
    response = post(key, "/usage", raw.encode("utf-8", "surrogatepass"))
    assert_whole(before, snapshot(), response)


@FAST
@given(events=st.lists(body_strategy(), max_size=8))
def test_hostile_batches_store_exactly_the_events_answered_201(key, events):
    before = snapshot()
    response = post(key, "/usage/batch", json.dumps({"events": events}, default=str))
    assert response.status_code < 500, response.content[:300]
    after = snapshot()
    if response.status_code == 200:
        created = sum(1 for r in response.json()["results"] if r["status"] == 201)
        assert after[0] - before[0] == created
    else:
        assert after[0] == before[0]
    assert after[1] == after[2] == after[3] == after[4]


@FAST
@given(tokens=hostile_ints, member_value=hostile_text)
def test_hostile_admission_bodies_never_5xx(key, tokens, member_value):
    before = snapshot()
    response = post(key, "/admission", json.dumps({"member": member_value, "product": "chat", "model": tokens},
                                                   default=str))
    assert_whole(before, snapshot(), response)


def test_duplicated_json_keys_are_answered_and_charged_at_most_once(key):
    before = snapshot()
    raw = ('{"idempotency_key": "dup", "member": "MEMBER", "product": "chat", "model": "claude-sonnet-4-5",'
           ' "usage": {"input_tokens": 10, "input_tokens": -5, "output_tokens": 1},'
           ' "idempotency_key": "dup2"}').replace("MEMBER", EMAIL)
    response = post(key, "/usage", raw)
    assert_whole(before, snapshot(), response)
    # JSON's last-one-wins: the request is the one with key dup2 and -5 tokens, which is refused.
    assert response.status_code == 400 and response.json()["error"]["field"] == "usage.input_tokens"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml", ""])
def test_wrong_content_types_get_a_json_4xx_and_write_nothing(key, content_type):
    before = snapshot()
    body = json.dumps({"idempotency_key": "ct", "member": EMAIL, "product": "chat", "model": "claude-sonnet-4-5",
                       "usage": {"input_tokens": 10, "output_tokens": 1}})
    response = post(key, "/usage", body, content_type=content_type)
    assert 400 <= response.status_code < 500
    assert_whole(before, snapshot(), response)


@pytest.mark.parametrize("path", ["/usage", "/usage/batch", "/admission"])
def test_bodies_over_the_upload_limit_get_a_json_413_and_write_nothing(key, path):
    limit = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert limit == 5 * 1024 * 1024
    event = {"idempotency_key": "big", "member": EMAIL, "product": "chat", "model": "claude-sonnet-4-5",
             "usage": {"input_tokens": 10, "output_tokens": 1}, "padding": "x" * (limit + 10)}
    before = snapshot()
    response = post(key, path, json.dumps({"events": [event]} if path.endswith("batch") else event))
    assert response.status_code == 413, response.content[:200]
    assert response.json()["error"]["type"] == "request_too_large"
    assert_whole(before, snapshot(), response)


def test_invalid_utf8_and_truncated_json_are_400s(key):
    for raw in (b"\xff\xfe{", b'{"idempotency_key": "t", "member"', b"", b"null", b"[]", b"1e999999"):
        before = snapshot()
        response = post(key, "/usage", raw)
        assert 400 <= response.status_code < 500, raw
        assert_whole(before, snapshot(), response)


@pytest.mark.parametrize(("path", "field"), [("/usage", "member"), ("/usage", "idempotency_key"),
                                           ("/usage/batch", "member"), ("/usage/batch", "idempotency_key"),
                                           ("/admission", "member")])
def test_nul_characters_are_a_400_naming_the_field_not_a_database_error(key, path, field):
    """PostgreSQL cannot store NUL in text; hypothesis found it answered 500 (then 503). Now a 400 naming it."""
    body = {"idempotency_key": "nul", "member": EMAIL, "product": "chat", "model": "claude-sonnet-4-5",
            "usage": {"input_tokens": 10, "output_tokens": 1}}
    body[field] += "\x00"
    before = snapshot()
    response = post(key, path, json.dumps({"events": [body]} if path.endswith("batch") else body))
    if path.endswith("batch") and response.status_code == 200:  # the event fails alone, in its result
        error = response.json()["results"][0]["error"]
        assert response.json()["results"][0]["status"] == 400
    else:
        assert response.status_code == 400
        error = response.json()["error"]
    assert error["field"] == (f"events[0].{field}" if path.endswith("batch") else field)
    assert "NUL" in error["message"] or "x00" in error["message"], error
    assert_whole(before, snapshot(), response)
