"""Keys, scopes, tenancy, organization type, the rate limit and the envelope, through the SDK on a live server."""

import datetime as dt

import anthropic
import httpx2
import pytest
import time_machine
from django.utils import timezone

from apps.admin_api.models import AdminApiKey, AdminScope
from apps.admin_api.services import admin_api_key_revoke
from apps.organizations.models import Organization, PlanKind
from apps.usage.models import SpendCap

from .conftest import Seeded, admin_key, sdk

pytestmark = pytest.mark.django_db(transaction=True)


def every_call(sl, *, spend_limit_id="spl_x", request_id="slir_x", user_id="user_x"):
    ir = sl.increase_requests
    return {
        "effective.list": lambda: sl.effective.list(),
        "list": lambda: sl.list(),
        "retrieve": lambda: sl.retrieve(spend_limit_id),
        "set": lambda: sl.set(scope={"type": "user", "user_id": user_id}, amount="100"),
        "delete": lambda: sl.delete(spend_limit_id),
        "increase_requests.list": lambda: ir.list(),
        "increase_requests.retrieve": lambda: ir.retrieve(request_id),
        "increase_requests.approve": lambda: ir.approve(request_id, amount="100"),
        "increase_requests.deny": lambda: ir.deny(request_id),
    }


def test_read_only_key_reads_but_cannot_write(live_server):
    seeded = Seeded()
    key = admin_key(seeded.org, scopes=[AdminScope.READ_SPEND_LIMITS], name="read only")
    sl = sdk(live_server, key).beta.organization.spend_limits
    calls = every_call(sl, spend_limit_id=seeded.member_cap.public_id, request_id=seeded.requests[0].public_id,
                       user_id=seeded.members[0].user.public_id)
    for name in ("effective.list", "list", "retrieve", "increase_requests.list", "increase_requests.retrieve"):
        calls[name]()
    for name in ("set", "delete", "increase_requests.approve", "increase_requests.deny"):
        with pytest.raises(anthropic.PermissionDeniedError) as caught:
            calls[name]()
        assert caught.value.type == "permission_error", name
        assert "write:spend_limits" in caught.value.body["error"]["message"]
    assert SpendCap.objects.filter(public_id=seeded.member_cap.public_id).exists()
    assert seeded.requests[0].__class__.objects.get(pk=seeded.requests[0].pk).status == "pending"


def test_write_only_key_cannot_read(live_server):
    seeded = Seeded()
    key = admin_key(seeded.org, scopes=[AdminScope.WRITE_SPEND_LIMITS], name="write only")
    sl = sdk(live_server, key).beta.organization.spend_limits
    with pytest.raises(anthropic.PermissionDeniedError):
        sl.effective.list()
    assert sl.set(scope={"type": "user", "user_id": seeded.members[0].user.public_id}, amount="100").amount == "100"


def test_another_organizations_ids_are_not_found(live_server):
    seeded, other = Seeded(), Seeded()
    sl = sdk(live_server, seeded.key).beta.organization.spend_limits
    for call in (lambda: sl.retrieve(other.member_cap.public_id), lambda: sl.delete(other.member_cap.public_id),
                 lambda: sl.retrieve(other.org_cap.public_id),
                 lambda: sl.increase_requests.retrieve(other.requests[0].public_id),
                 lambda: sl.increase_requests.approve(other.requests[0].public_id, amount="100"),
                 lambda: sl.increase_requests.deny(other.requests[0].public_id)):
        with pytest.raises(anthropic.NotFoundError) as caught:
            call()
        assert caught.value.type == "not_found_error"
    assert other.requests[0].__class__.objects.get(pk=other.requests[0].pk).status == "pending"
    assert SpendCap.objects.filter(pk=other.member_cap.pk).exists()
    listed = {r.id for r in sl.increase_requests.list()}
    assert listed == {r.public_id for r in seeded.requests}


def test_team_organization_gets_organization_type_not_supported_everywhere(live_server):
    seeded = Seeded()
    # A key minted while Enterprise, then the organization moved to a Team plan.
    Organization.objects.filter(pk=seeded.org.pk).update(plan_kind=PlanKind.TEAM)
    sl = sdk(live_server, seeded.key).beta.organization.spend_limits
    for name, call in every_call(sl, spend_limit_id=seeded.member_cap.public_id,
                                 request_id=seeded.requests[0].public_id).items():
        with pytest.raises(anthropic.OrganizationTypeNotSupportedError) as caught:
            call()
        error = caught.value
        assert error.status_code == 400 and error.error_code == "organization_type_not_supported", name
        assert error.body["error"]["message"] == "this endpoint is not supported for this organization type"


def test_unknown_revoked_and_missing_keys_get_authentication_error(live_server):
    seeded = Seeded()
    with pytest.raises(anthropic.AuthenticationError) as caught:
        sdk(live_server, "sk-ant-admin01-not-a-key").beta.organization.spend_limits.effective.list()
    assert caught.value.body["error"] == {"type": "authentication_error", "message": "invalid x-api-key"}
    key = AdminApiKey.objects.get(organization=seeded.org)
    admin_api_key_revoke(key=key, now=timezone.now())
    with pytest.raises(anthropic.AuthenticationError):
        sdk(live_server, seeded.key).beta.organization.spend_limits.effective.list()
    response = httpx2.get(f"{live_server.url}/v1/organizations/spend_limits/effective")
    assert response.status_code == 401 and response.json()["error"]["message"] == "x-api-key header is required"
    # A machine API key of the assistant products is not an Admin API key.
    from tests.factories import api_key

    response = httpx2.get(f"{live_server.url}/v1/organizations/spend_limits/effective",
                          headers={"x-api-key": api_key(seeded.org)})
    assert response.status_code == 401


def test_x_api_key_header_works_like_bearer_and_last_used_is_recorded(live_server):
    seeded = Seeded()
    response = httpx2.get(f"{live_server.url}/v1/organizations/spend_limits/effective?limit=1",
                          headers={"x-api-key": seeded.key, "anthropic-version": "2023-06-01"})
    assert response.status_code == 200 and len(response.json()["data"]) == 1
    assert response.headers["content-type"] == "application/json"
    assert AdminApiKey.objects.get(organization=seeded.org).last_used_at is not None


def test_rate_limit_is_sixty_requests_a_minute_per_organization_with_retry_after(live_server):
    seeded = Seeded()
    second_key = admin_key(seeded.org, name="second")
    other = Seeded()
    start = timezone.now().replace(second=5, microsecond=0) + dt.timedelta(minutes=1)
    with time_machine.travel(start, tick=True):
        first = sdk(live_server, seeded.key).beta.organization.spend_limits
        second = sdk(live_server, second_key).beta.organization.spend_limits
        for n in range(60):
            (first if n % 2 else second).effective.list(limit=1)  # one budget shared by the org's keys
        with pytest.raises(anthropic.RateLimitError) as caught:
            first.increase_requests.list()
        error = caught.value
        assert error.status_code == 429 and error.type == "rate_limit_error"
        assert 1 <= int(error.response.headers["retry-after"]) <= 55
        assert error.request_id.startswith("req_")
        # Another organization has its own budget.
        assert sdk(live_server, other.key).beta.organization.spend_limits.effective.list(limit=1).data


def test_every_response_carries_its_request_id(live_server):
    seeded = Seeded()
    sl = sdk(live_server, seeded.key).beta.organization.spend_limits
    raw = sl.effective.with_raw_response.list(limit=1)
    assert raw.headers["request-id"].startswith("req_")
    with pytest.raises(anthropic.NotFoundError) as caught:
        sl.retrieve("spl_doesnotexist")
    body = caught.value.body
    assert caught.value.request_id == body["request_id"] and body["type"] == "error"
    assert body["error"] == {"type": "not_found_error", "message": "spend limit not found"}


def test_unknown_routes_are_json_404s_and_slashes_do_not_redirect(live_server):
    seeded = Seeded()
    headers = {"x-api-key": seeded.key}
    for path in ("/v1/organizations/spend_limits/", "/v1/organizations/nothing_here",
                 "/v1/organizations/spend_limit_increase_requests/slir_x/cancel"):
        response = httpx2.get(f"{live_server.url}{path}", headers=headers, follow_redirects=False)
        assert response.status_code == 404, path
        assert response.json()["error"]["type"] == "not_found_error" and response.headers["request-id"]


def test_openapi_schema_lists_the_spend_limit_analytics_and_webhook_operations(live_server):
    schema = httpx2.get(f"{live_server.url}/v1/organizations/openapi.json").json()
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert len(operations) == 9 + 6 + 6
    assert {o for o in operations if o.startswith("webhook_")} == {
        "webhook_endpoints_list", "webhook_endpoint_create", "webhook_endpoint_retrieve", "webhook_endpoint_update",
        "webhook_endpoint_delete", "webhook_endpoint_regenerate_signing_secret"}
    assert {o for o in operations if o.startswith("analytics_")} == {
        "analytics_cost", "analytics_usage", "analytics_cost_report", "analytics_usage_report",
        "analytics_user_cost_report", "analytics_user_usage_report"}
    params = {p["name"] for p in schema["paths"]["/v1/organizations/spend_limits/effective"]["get"]["parameters"]}
    assert {"user_ids[]", "period[]", "limit", "page"} == params


def test_malformed_bodies_are_400s_not_500s(live_server):
    seeded = Seeded()
    url = f"{live_server.url}/v1/organizations/spend_limits"
    headers = {"x-api-key": seeded.key, "content-type": "application/json"}
    for body, message in ((b"{not json", "body: invalid JSON"), (b"[1, 2]", "body: must be a JSON object"),
                          (b"{}", "scope: required"), (b'{"scope": "user"}', "scope: must be an object")):
        response = httpx2.post(url, content=body, headers=headers)
        assert (response.status_code, response.json()["error"]["message"]) == (400, message)
    # Too large is a 413 in the same envelope (issue 26), above Django's upload limit and above the API's own.
    for body, message in ((b"x" * (6 * 1024 * 1024), "body: too large"),
                          (b'{"x": "' + b"y" * (70 * 1024) + b'"}', "body: larger than 65536 bytes")):
        response = httpx2.post(url, content=body, headers=headers)
        assert (response.status_code, response.json()["error"]["type"], response.json()["error"]["message"]) == (
            413, "request_too_large", message)
    user_id = seeded.members[0].user.public_id
    response = httpx2.post(url, json={"scope": {"type": "user", "user_id": user_id}}, headers=headers)
    assert response.json()["error"]["message"] == "amount: required"
    response = httpx2.post(url, json={"scope": {"type": "user", "user_id": user_id}, "amount": 5000},
                           headers=headers)
    assert response.json()["error"]["message"] == "amount: must be a non-negative integer decimal string"
    # Unknown body fields are ignored.
    response = httpx2.post(url, json={"scope": {"type": "user", "user_id": user_id}, "amount": "5000", "x": 1},
                           headers=headers)
    assert response.status_code == 200 and response.json()["amount"] == "5000"
