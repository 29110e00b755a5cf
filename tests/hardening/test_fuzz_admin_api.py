"""Fuzz the Admin API (Spend Limits) from its OpenAPI schema (schemathesis, in-process through WSGI): never a
5xx, every response carries a request id, every 4xx is the documented error envelope naming the problem, and
nothing is written by a refused request."""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings

from apps.admin_api.openapi import SCHEMA
from apps.admin_api.services import admin_api_key_create
from apps.organizations.models import AuditEntry, PlanKind, Role
from apps.usage.models import SpendCap
from tests.factories import OrganizationFactory, member

wsgi_app = get_wsgi_application()
schema = schemathesis.openapi.from_dict(SCHEMA)
schema.app = wsgi_app
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The WSGI handler closes the connection after each request; the test's transaction needs it open."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def admin_key(db):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="fuzzed")
    owner = member(org, email="owner@fuzzed.example", role=Role.PRIMARY_OWNER)
    member(org, email="dev@fuzzed.example")
    _, raw = admin_api_key_create(organization=org, name="fuzz",
                                  scopes=["read:spend_limits", "write:spend_limits", "read:analytics"],
                                  actor=owner.user, now=timezone.now())
    return {"x-api-key": raw}


def _names_the_problem(response) -> None:
    assert response.status_code < 500, response.text[:500]
    request_id = response.headers["request-id"][0]  # schemathesis keeps every header as a list
    assert request_id.startswith("req_")
    if 400 <= response.status_code < 500:
        assert response.headers["content-type"][0].startswith("application/json"), response.text[:200]
        body = response.json()
        assert body["type"] == "error" and body["request_id"] == request_id, body
        error = body["error"]
        assert error["type"] and len(error["message"]) > 5, error


@schema.parametrize()
@FUZZ
def test_admin_api_never_answers_5xx_and_every_4xx_names_the_problem(case, admin_key):
    caps, audits = SpendCap.objects.count(), AuditEntry.objects.count()
    response = case.call(headers=admin_key)
    _names_the_problem(response)
    if response.status_code >= 400:
        assert (SpendCap.objects.count(), AuditEntry.objects.count()) == (caps, audits)


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_admin_api_without_a_key_is_a_json_401(case, db):
    response = case.call(headers={"x-api-key": ""})
    if response.status_code != 405:
        assert response.status_code == 401, response.text[:300]
        assert "x-api-key" in response.json()["error"]["message"]
