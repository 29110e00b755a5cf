"""Hole 7 of issue 26: 30 password-reset requests in a minute sent 30 emails, and SCIM had no rate limit. Now
logins, password resets, SCIM calls and OIDC callbacks are counted per account and per client address
(apps/common/ratelimit.py ClientThrottle, limits in THROTTLE_LIMITS): over the limit, a 429 with Retry-After and
a message saying how long to wait; nothing is checked or sent. django-axes' lockout after five failed logins
from one address stays."""

import json
import re

import pytest
from django.conf import settings
from django.test import Client

from apps.identity.services import scim_token_create
from apps.organizations.models import Membership, PlanKind, Role
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db


def test_thirty_reset_requests_in_a_minute_send_at_most_five_emails(outbox):
    member(OrganizationFactory(), email="pat@example.com")
    client = Client()
    statuses = [client.post("/accounts/password/reset/", {"email": "pat@example.com"},
                            REMOTE_ADDR=f"198.51.100.{n}").status_code for n in range(30)]
    limit = settings.THROTTLE_LIMITS["password_reset"]["account"]
    assert limit == 5
    assert statuses == [302] * limit + [429] * (30 - limit)  # from 30 different addresses: per account
    assert len(outbox) == limit
    page = client.post("/accounts/password/reset/", {"email": "pat@example.com"})
    assert page.status_code == 429 and int(page["Retry-After"]) > 0
    assert re.search(r"Too many attempts\. Wait \d+ seconds, then try again\.", page.content.decode())
    assert len(outbox) == limit


def test_one_address_resetting_many_accounts_is_stopped_and_unknown_addresses_count_alike(outbox):
    client = Client()
    limit = settings.THROTTLE_LIMITS["password_reset"]["address"]
    statuses = [client.post("/accounts/password/reset/", {"email": f"nobody{n}@example.com"}).status_code
                for n in range(limit + 3)]
    assert statuses == [302] * limit + [429] * 3
    assert outbox == []


def test_logins_for_one_account_from_many_addresses_are_throttled():
    """django-axes locks a username per address; an attacker rotating addresses is stopped per account."""
    member(OrganizationFactory(slug="acme"), email="owner@acme.example", role=Role.PRIMARY_OWNER)
    limit = settings.THROTTLE_LIMITS["login"]["account"]
    client = Client()
    statuses = [client.post("/accounts/login/", {"username": "owner@acme.example", "password": f"guess-{n}"},
                            REMOTE_ADDR=f"203.0.113.{n}").status_code for n in range(limit + 2)]
    assert statuses == [200] * limit + [429] * 2  # the form again with its error, then the throttle
    right = client.post("/accounts/login/", {"username": "owner@acme.example", "password": "demo-password"},
                        REMOTE_ADDR="203.0.113.250")
    assert right.status_code == 429 and "_auth_user_id" not in client.session
    assert "Too many attempts" in right.content.decode()


def test_scim_answers_a_flood_with_429_in_its_error_schema(settings):
    settings.THROTTLE_LIMITS = {**settings.THROTTLE_LIMITS, "scim": {"window": 60, "account": 5, "address": 50}}
    org = OrganizationFactory(slug="acme", plan_kind=PlanKind.TEAM)
    _, raw = scim_token_create(organization=org, name="Okta")
    client = Client()
    statuses = []
    for n in range(7):
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"u{n}@acme.example",
                "emails": [{"value": f"u{n}@acme.example", "primary": True}]}
        response = client.post("/scim/v2/Users", json.dumps(body), content_type="application/scim+json",
                               HTTP_AUTHORIZATION=f"Bearer {raw}")
        statuses.append(response.status_code)
    assert statuses[5:] == [429, 429] and 429 not in statuses[:5]
    error = response.json()
    assert error["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] and error["status"] == "429"
    assert int(response["Retry-After"]) > 0
    assert not Membership.objects.filter(user__email__in=["u5@acme.example", "u6@acme.example"]).exists()
    # Another address with wrong tokens is counted per address too.
    wrong = [client.get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer wrong-{n}", REMOTE_ADDR="192.0.2.9").status_code
             for n in range(52)]
    assert wrong[:50] == [401] * 50 and wrong[50:] == [429, 429]


def test_the_oidc_callback_is_throttled_per_address():
    limit = settings.THROTTLE_LIMITS["oidc_callback"]["address"]
    client = Client()
    statuses = [client.get("/sso/oidc/org-acme/login/callback/", {"code": "x", "state": "y"}).status_code
                for _ in range(limit + 1)]
    assert 429 not in statuses[:limit] and statuses[limit] == 429
    page = client.get("/sso/oidc/org-acme/login/callback/", {"code": "x", "state": "y"})
    assert page.status_code == 429 and "Too many attempts" in page.content.decode()
