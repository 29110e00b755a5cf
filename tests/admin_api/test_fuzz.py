"""Fuzz the Spend Limits API from its own OpenAPI schema (schemathesis, in-process through the WSGI app):
whatever arrives, never a 5xx, and every error is the documented envelope with a request id."""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from apps.admin_api.openapi import SCHEMA

from .conftest import Seeded

wsgi_app = get_wsgi_application()
schema = schemathesis.openapi.from_dict(SCHEMA)
schema.app = wsgi_app


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The WSGI handler closes the connection after each request; the test's transaction needs it open."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def key_headers(db, settings):
    settings.ADMIN_API_RATE_LIMIT_PER_MINUTE = 100_000  # the fuzzer is not what the limit is about
    return {"x-api-key": Seeded().key}


@schema.parametrize()
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_spend_limits_api_never_answers_5xx_and_errors_use_the_envelope(case, key_headers):
    response = case.call(headers=key_headers)
    assert response.status_code < 500, response.text[:500]
    request_id = response.headers["request-id"][0]  # schemathesis keeps every header as a list
    assert request_id.startswith("req_")
    if response.status_code >= 400:
        body = response.json()
        assert body["type"] == "error" and body["request_id"] == request_id
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
