"""Every bad input of the machine API: a 4xx with a JSON body naming the field, and nothing written."""

import json

import pytest

from apps.organizations.models import ApiKey, PlanKind
from apps.organizations.services import api_key_revoke
from apps.usage.models import MemberPeriodUsage, OrgUsageSlot, UsageDailyRollup, UsageEvent
from tests.conftest import ApiClient
from tests.factories import OrganizationFactory, api_key, member

from .conftest import usage_body

pytestmark = pytest.mark.django_db


def assert_nothing_written():
    assert UsageEvent.objects.count() == 0
    assert MemberPeriodUsage.objects.filter(spend__gt=0).count() == 0
    assert OrgUsageSlot.objects.count() == 0
    assert UsageDailyRollup.objects.count() == 0


def assert_field_error(response, status: int, field: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"]["field"] == field, body
    assert field.split(".")[-1] in body["error"]["message"], body


def with_usage(**usage):
    body = usage_body("k1")
    body["usage"] = usage
    return body


BAD_USAGE = [
    pytest.param(with_usage(output_tokens=10), "usage.input_tokens", id="missing-input-tokens"),
    pytest.param(with_usage(input_tokens=10), "usage.output_tokens", id="missing-output-tokens"),
    pytest.param(with_usage(input_tokens=-1, output_tokens=10), "usage.input_tokens", id="negative"),
    pytest.param(with_usage(input_tokens=10, output_tokens=10, cache_read_input_tokens=-5),
                 "usage.cache_read_input_tokens", id="negative-cache"),
    pytest.param(with_usage(input_tokens="ten", output_tokens=10), "usage.input_tokens", id="non-integer"),
    pytest.param(with_usage(input_tokens="10", output_tokens=10), "usage.input_tokens", id="numeric-string"),
    pytest.param(with_usage(input_tokens=1.5, output_tokens=10), "usage.input_tokens", id="float"),
    pytest.param(with_usage(input_tokens=10.0, output_tokens=10), "usage.input_tokens", id="integral-float"),
    pytest.param(with_usage(input_tokens=True, output_tokens=10), "usage.input_tokens", id="boolean"),
    pytest.param(with_usage(input_tokens=10**30, output_tokens=10), "usage.input_tokens", id="huge"),
    pytest.param({**usage_body("k1"), "usage": [1, 2]}, "usage", id="usage-not-object"),
    pytest.param({k: v for k, v in usage_body("k1").items() if k != "usage"}, "usage", id="missing-usage"),
    pytest.param({k: v for k, v in usage_body("k1").items() if k != "member"}, "member", id="missing-member"),
    pytest.param({k: v for k, v in usage_body("k1").items() if k != "idempotency_key"}, "idempotency_key",
                 id="missing-key"),
    pytest.param(usage_body(""), "idempotency_key", id="empty-key"),
    pytest.param(usage_body("k1", product="browser"), "product", id="unknown-product"),
    pytest.param(usage_body("k1", model="claude-unknown-9"), "model", id="unknown-model"),
    pytest.param(usage_body("k1", model=""), "model", id="empty-model"),
    pytest.param(usage_body("k1", email="nobody@example.com"), "member", id="unknown-member"),
    pytest.param(usage_body("k1", occurred_at="2999-01-01T00:00:00Z"), "occurred_at", id="far-future"),
    pytest.param(usage_body("k1", occurred_at="yesterday"), "occurred_at", id="not-a-date"),
    pytest.param(usage_body("k1", occurred_at="2020-01-01T00:00:00Z"), "occurred_at", id="far-past"),
]


@pytest.mark.parametrize(("body", "field"), BAD_USAGE)
def test_bad_usage_is_refused_naming_the_field_and_nothing_is_written(usage_org, body, field):
    _, _, client = usage_org
    assert_field_error(client.post("/usage", body), 400, field)
    assert_nothing_written()


def test_null_or_absent_cache_counts_are_zero_as_the_messages_api_sends_them(usage_org):
    _, _, client = usage_org
    body = with_usage(input_tokens=1000, output_tokens=100, cache_creation_input_tokens=None,
                      cache_read_input_tokens=None, server_tool_use={"web_search_requests": 0})
    response = client.post("/usage", body)
    assert response.status_code == 201, response.content
    assert response.json()["cost"] == "0.0045"


def test_non_json_body_is_refused(usage_org):
    _, _, client = usage_org
    assert_field_error(client.post("/usage", "{not json"), 400, "body")
    assert_field_error(client.post("/usage/batch", b"\xff\xfe"), 400, "body")
    assert_field_error(client.post("/admission", "{"), 400, "body")
    assert_nothing_written()


def test_json_that_is_not_an_object_is_refused(usage_org):
    _, _, client = usage_org
    response = client.post("/usage", "[1, 2, 3]")
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["field"]
    assert_nothing_written()


def test_wrong_content_type_is_refused(usage_org):
    _, _, client = usage_org
    form = client.post("/usage", "input_tokens=5", content_type="application/x-www-form-urlencoded")
    assert_field_error(form, 415, "Content-Type")
    # Even a valid JSON body is refused when it is not declared as JSON.
    text = client.post("/usage", json.dumps(usage_body("k1")), content_type="text/plain")
    assert_field_error(text, 415, "Content-Type")
    assert_nothing_written()


def test_member_of_another_organization_is_refused(usage_org):
    _, _, client = usage_org
    other = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    member(other, email="stranger@example.com")
    assert_field_error(client.post("/usage", usage_body("k1", email="stranger@example.com")), 400, "member")
    assert_field_error(client.post("/admission", {"member": "stranger@example.com", "product": "chat",
                                                  "model": "claude-sonnet-4-5"}), 400, "member")
    assert_nothing_written()


def test_oversized_batch_is_refused_whole(usage_org):
    _, _, client = usage_org
    events = [usage_body(f"k{i}") for i in range(1001)]
    response = client.post("/usage/batch", {"events": events})
    assert_field_error(response, 400, "events")
    assert_nothing_written()


def test_batch_that_is_not_a_list_is_refused(usage_org):
    _, _, client = usage_org
    assert_field_error(client.post("/usage/batch", {"events": "many"}), 400, "events")
    assert_nothing_written()


@pytest.mark.parametrize(("body", "field"), [
    pytest.param({"product": "chat", "model": "claude-sonnet-4-5"}, "member", id="missing-member"),
    pytest.param({"member": "dev@example.com", "product": "fax", "model": "claude-sonnet-4-5"}, "product",
                 id="unknown-product"),
    pytest.param({"member": "dev@example.com", "product": "chat", "model": "gpt-4"}, "model", id="unknown-model"),
    pytest.param({"member": "nobody@example.com", "product": "chat", "model": "claude-sonnet-4-5"}, "member",
                 id="unknown-member"),
])
def test_bad_admission_is_refused_naming_the_field(usage_org, body, field):
    _, _, client = usage_org
    assert_field_error(client.post("/admission", body), 400, field)


@pytest.mark.parametrize("path", ["/admission", "/usage", "/usage/batch"])
def test_wrong_or_missing_key_is_401(usage_org, path):
    _, _, client = usage_org
    body = {"events": [usage_body("k1")]} if path.endswith("batch") else usage_body("k1")
    wrong = ApiClient("bp_live_not-a-real-key").post(path, body)
    assert wrong.status_code == 401
    assert wrong.json()["error"]["type"] == "authentication_error"
    missing = client.client.post(f"/api/v1{path}", data=body, content_type="application/json")
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "authentication_error"
    assert_nothing_written()


def test_revoked_key_is_401_from_the_next_request(usage_org):
    org, _, client = usage_org
    assert client.post("/usage", usage_body("k1")).status_code == 201
    api_key_revoke(key=ApiKey.objects.get(organization=org))
    response = client.post("/usage", usage_body("k2"))
    assert response.status_code == 401
    assert UsageEvent.objects.count() == 1


def test_another_organizations_key_cannot_charge_this_organizations_member(usage_org):
    other = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    response = ApiClient(api_key(other)).post("/usage", usage_body("k1"))
    assert_field_error(response, 400, "member")
    assert_nothing_written()


@pytest.mark.parametrize("field", ["idempotency_key", "member", "model"])
def test_nul_characters_are_refused_naming_the_field(usage_org, field):
    _, _, client = usage_org
    body = usage_body("k1")
    body[field] = body[field] + "\x00"
    assert_field_error(client.post("/usage", body), 400, field)
    batch = client.post("/usage/batch", {"events": [body, usage_body("k2")]})
    assert [r["status"] for r in batch.json()["results"]] == [400, 201]
    assert batch.json()["results"][0]["error"]["field"] == f"events[0].{field}"
    if field != "idempotency_key":
        admission = {"member": "dev@example.com", "product": "chat", "model": "claude-haiku-4-5", field: body[field]}
        assert_field_error(client.post("/admission", admission), 400, field)
    assert UsageEvent.objects.count() == 1


def test_a_wrong_method_is_a_json_405_naming_the_allowed_one(client):
    response = client.get("/api/v1/usage")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["error"]["field"] == "method"
    assert "POST" in response.json()["error"]["message"]


@pytest.mark.parametrize("send", [
    pytest.param(lambda c: c.client.post("/api/v1/admission", data="{not json", content_type="application/json",
                                         HTTP_AUTHORIZATION="Bearer bp_live_wrong"), id="not-json"),
    pytest.param(lambda c: c.client.post("/api/v1/admission", data="member=x", content_type="text/plain",
                                         HTTP_AUTHORIZATION="Bearer bp_live_wrong"), id="not-json-content-type"),
    pytest.param(lambda c: ApiClient("bp_live_wrong").post("/admission", {"member": 5}), id="bad-fields"),
    pytest.param(lambda c: ApiClient("bp_live_wrong").post("/admission", {"member": "dev@example.com",
                                                                         "product": "chat", "model": "nope"}),
                 id="unknown-model"),
])
def test_admission_with_a_bad_key_is_401_whatever_is_wrong_with_its_body(usage_org, send):
    # Admission checks its key in the same statement as its decision, after the body; a bad key still wins.
    _, _, client = usage_org
    response = send(client)
    assert response.status_code == 401, response.content
    assert response.json()["error"]["type"] == "authentication_error"


def test_admission_with_a_good_key_and_a_bad_body_names_the_field(usage_org):
    _, _, client = usage_org
    assert_field_error(client.post("/admission", {"member": "dev@example.com", "product": "chat", "model": "nope"}),
                       400, "model")
