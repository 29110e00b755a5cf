"""Fuzz the machine API from its own OpenAPI schema (schemathesis, in-process through the WSGI app).

Whatever arrives: never a 5xx, and every 4xx body is JSON whose error message names the problem."""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from apps.machine_api.api import api
from apps.organizations.models import PlanKind
from apps.usage.models import MemberPeriodUsage, UsageDailyRollup, UsageEvent
from tests.factories import OrganizationFactory, api_key, member

wsgi_app = get_wsgi_application()


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The WSGI handler closes the database connection after each request; the test's transaction needs it
    open (django.test.Client does the same)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# The schema the API serves at /api/v1/openapi.json, built from the same django-ninja object; requests go
# in-process through the WSGI application.
schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/v1/"))
schema.app = wsgi_app


@pytest.fixture
def bearer(db):
    org = OrganizationFactory(plan_kind=PlanKind.TEAM)
    # Real members, so that generated bodies that happen to name one reach the ledger.
    member(org, email="dev@example.com")
    member(org, email="user@example.com")
    return {"Authorization": f"Bearer {api_key(org)}"}


def assert_names_the_problem(response):
    assert response.status_code < 500, response.text[:500]
    if response.status_code == 405:
        assert response.headers["allow"]
    if 400 <= response.status_code < 500:
        assert response.headers["content-type"][0].startswith("application/json"), response.text[:200]
        error = response.json()["error"]
        assert isinstance(error["message"], str) and len(error["message"]) > 5, error


def assert_ledger_consistent():
    """Whatever was stored is whole: each event counted once in the member counters and the rollups."""
    from django.db.models import Sum

    events = UsageEvent.objects.aggregate(n=Sum("input_tokens"), c=Sum("cost"))
    rollups = UsageDailyRollup.objects.aggregate(n=Sum("input_tokens"), c=Sum("cost"))
    counters = MemberPeriodUsage.objects.aggregate(c=Sum("spend"))
    assert events["n"] == rollups["n"]
    assert events["c"] == rollups["c"] == (counters["c"] if events["c"] is not None else None) or (
        events["c"] is None and not counters["c"])


@schema.parametrize()
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_machine_api_never_answers_5xx_and_every_4xx_names_the_problem(case, bearer):
    response = case.call(headers=bearer)
    assert_names_the_problem(response)
    assert_ledger_consistent()


@schema.parametrize()
@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_machine_api_without_a_key_is_401_json_for_any_body(case, db):
    response = case.call()
    if response.status_code != 405:  # a wrong method is refused before anything else
        assert response.status_code == 401, response.text[:300]
        assert "API key" in response.json()["error"]["message"]
    assert not UsageEvent.objects.exists()
