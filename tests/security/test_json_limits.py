"""Hole 6 of issue 26: a body nested 100,000 levels deep got a 500 from /api/v1/usage, /api/v1/admission and the
Admin API (Python's json module recursed until RecursionError). Every JSON API now reads bodies through
apps/common/json_body.py: too deep is a 400 and too large a 413, each in that API's own error shape, and
nothing is written."""

import base64
import json
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from apps.admin_api.models import AdminScope
from apps.admin_api.services import admin_api_key_create
from apps.identity.services import scim_token_create
from apps.organizations.models import AuditEntry, Membership, PlanKind, Role
from apps.usage.models import SpendCap, UsageEvent
from tests.factories import OrganizationFactory, api_key, member

pytestmark = pytest.mark.django_db

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_IN_OBJECT = b'{"idempotency_key": "k", "member": ' + b'{"a": ' * 100 + b"1" + b"}" * 100 + b"}"


@pytest.fixture(autouse=True)
def _own_rate_limit_budgets(settings):
    settings.ADMIN_API_RATE_LIMIT_NAMESPACE = f"test-admin-api:{uuid.uuid4().hex}"


@pytest.fixture
def org():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="acme")
    member(org, email="primary@acme.example", role=Role.PRIMARY_OWNER)
    member(org, email="dev@acme.example")
    return org


def _written():
    return UsageEvent.objects.count(), SpendCap.objects.count(), Membership.objects.count(), AuditEntry.objects.count()


@pytest.mark.parametrize("path", ["/api/v1/usage", "/api/v1/admission", "/api/v1/usage/batch"])
@pytest.mark.parametrize("body", [DEEP, DEEP_IN_OBJECT], ids=["100k-deep", "100-deep-field"])
def test_machine_api_answers_deep_json_with_its_400(org, path, body):
    key = api_key(org)
    before = _written()
    response = Client().post(path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 400
    assert response.json() == {"error": {"type": "invalid_request", "field": "body",
                                         "message": "body: nested deeper than 32 levels"}}
    assert _written() == before


def test_machine_api_answers_a_too_large_body_with_its_413(org, settings):
    settings.JSON_BODY_MAX_BYTES = 1000
    response = Client().post("/api/v1/usage", json.dumps({"member": "x" * 2000}), content_type="application/json",
                             HTTP_AUTHORIZATION=f"Bearer {api_key(org)}")
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"


def test_admin_api_answers_deep_json_in_its_envelope(org):
    _, raw = admin_api_key_create(organization=org, name="ci", now=timezone.now(),
                                  scopes=[AdminScope.READ_SPEND_LIMITS, AdminScope.WRITE_SPEND_LIMITS])
    before = _written()
    # 100,000 levels is 200 KB, above the Admin API's 64 KB: refused as too large before it is decoded.
    response = Client().post("/v1/organizations/spend_limits", DEEP, content_type="application/json",
                             HTTP_X_API_KEY=raw)
    assert response.status_code == 413 and response.json()["error"]["type"] == "request_too_large"
    for body in (b"[" * 30_000 + b"]" * 30_000, DEEP_IN_OBJECT):
        response = Client().post("/v1/organizations/spend_limits", body, content_type="application/json",
                                 HTTP_X_API_KEY=raw)
        assert response.status_code == 400
        payload = response.json()
        assert payload["type"] == "error" and payload["error"] == {
            "type": "invalid_request_error", "message": "body: nested deeper than 32 levels"}
        assert payload["request_id"] == response["request-id"]
    # A cursor is JSON too (base64 in ?page=): a deep one is "invalid", not a 500.

    page = base64.urlsafe_b64encode(b"[" * 3000 + b"]" * 3000).decode().rstrip("=")
    response = Client().get("/v1/organizations/spend_limits", {"page": page}, HTTP_X_API_KEY=raw)
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    assert _written() == before


def test_scim_answers_deep_and_large_json_in_its_error_schema(org):
    _, raw = scim_token_create(organization=org, name="Okta")
    before = _written()
    response = Client().post("/scim/v2/Users", DEEP, content_type="application/scim+json",
                             HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 400
    error = response.json()
    assert error["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert error["scimType"] == "invalidSyntax" and "nested deeper than 32 levels" in error["detail"]
    response = Client().post("/scim/v2/Users", b'{"userName": "' + b"a" * (1024 * 1024) + b'"}',
                             content_type="application/scim+json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 413 and response.json()["status"] == "413"
    response = Client().post("/scim/v2/Users", b"\xff\xfe{", content_type="application/scim+json",
                             HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 400 and response.json()["scimType"] == "invalidSyntax"
    assert _written() == before
