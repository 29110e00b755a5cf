"""Webhook endpoints through the Admin API, driven with the official `anthropic` SDK
(`client.beta.organization.webhooks`) against a live server: create, list (the SDK's own pagination), retrieve,
update, regenerate the secret, delete; the console's URL rules (the SSRF guard on), scopes, another
organization's endpoint, audit rows, and the secret shown only on create and regenerate."""

import datetime as dt

import anthropic
import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from apps.admin_api.models import AdminApiKey, AdminScope
from apps.common import outbound
from apps.organizations.models import AuditEntry, PlanKind
from apps.webhooks.models import WebhookEndpoint
from apps.webhooks.services import endpoint_create, request_for, webhook_test_send
from tests.factories import OrganizationFactory

from .conftest import admin_key, sdk

pytestmark = pytest.mark.django_db(transaction=True)
READ, WRITE = AdminScope.READ_WEBHOOKS, AdminScope.WRITE_WEBHOOKS
URL = "https://hooks.acme.example/in"


@pytest.fixture
def org():
    return OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="acme")


@pytest.fixture
def no_dns(settings, monkeypatch):
    """The `*.example` hosts of these tests do not resolve here: they pass the outbound guard's check as public
    names would (apps/common/outbound.py); every other host is checked for real. The HTTPS rule stays on."""
    check = outbound.check_url_host
    monkeypatch.setattr(outbound, "check_url_host",
                        lambda host, port: None if host.endswith(".example") else check(host, port))
    settings.WEBHOOKS_REQUIRE_HTTPS = True


def hooks(live_server, org, scopes=(READ, WRITE)):
    return sdk(live_server, admin_key(org, scopes=list(scopes))).beta.organization.webhooks


def test_create_list_update_regenerate_delete_with_the_sdk(live_server, org, no_dns):
    wh = hooks(live_server, org)
    created = wh.create(url=URL, enabled_events=["invoice.issued", "spend.cap_reached"], description="Finance")
    endpoint = WebhookEndpoint.objects.get(public_id=created.id)
    assert created.signing_secret == endpoint.secret and created.signing_secret.startswith("whsec_")
    assert (created.url, created.state, created.description, created.name) == (URL, "enabled", "Finance", "")
    assert created.enabled_events == ["spend.cap_reached", "invoice.issued"]  # the portal's order
    fetched = wh.retrieve(created.id)
    assert fetched.id == created.id and not hasattr(fetched, "signing_secret")
    assert "signing_secret" not in wh.with_raw_response.retrieve(created.id).json()

    updated = wh.update(created.id, state="disabled", enabled_events=["invoice.paid"])
    assert (updated.state, updated.enabled_events, updated.url) == ("disabled", ["invoice.paid"], URL)
    assert wh.update(created.id, state="enabled", enabled_events=[]).enabled_events == ["invoice.paid"]

    old_secret = endpoint.secret
    new = wh.regenerate_signing_secret(created.id).signing_secret
    endpoint.refresh_from_db()
    assert new == endpoint.secret != old_secret and endpoint.previous_secret == old_secret
    # A delivery sent now verifies with either secret (the console's 24-hour overlap).
    delivery = webhook_test_send(endpoint=endpoint, now=timezone.now())
    headers, body = request_for(delivery, timezone.now())
    for secret in (new, old_secret):
        assert Webhook(secret).verify(body, headers)["type"] == "webhook.test"

    assert wh.delete(created.id).type == "webhook_endpoint_deleted"
    assert not WebhookEndpoint.objects.filter(public_id=created.id).exists()
    with pytest.raises(anthropic.NotFoundError):
        wh.retrieve(created.id)
    actions = list(AuditEntry.objects.filter(organization=org, action__startswith="webhook_endpoint.")
                   .order_by("id").values_list("action", "actor_label"))
    key_label = actions[0][1]
    assert key_label.startswith("apikey:apikey_")
    assert actions == [("webhook_endpoint.create", key_label), ("webhook_endpoint.update", key_label),
                       ("webhook_endpoint.update", key_label), ("webhook_endpoint.rotate_secret", key_label),
                       ("webhook_endpoint.delete", key_label)]


def test_the_list_pages_with_the_sdks_own_paginator(live_server, org, no_dns):
    start = timezone.now() - dt.timedelta(hours=1)
    ids = [endpoint_create(organization=org, url=f"{URL}/{i}", events=["invoice.paid"],
                           now=start + dt.timedelta(minutes=i))[0].public_id for i in range(5)]
    wh = hooks(live_server, org, scopes=(READ,))
    assert [e.id for e in wh.list(limit=2)] == ids[::-1]  # auto-pagination: newest first, three requests
    first = wh.list(limit=2)
    assert (first.has_more, first.first_id, first.last_id) == (True, ids[4], ids[3])
    assert [e.id for e in wh.list(limit=2, order="asc")] == ids
    assert [e.id for e in wh.list(limit=2, order="asc", after_id=ids[1]).data] == ids[2:4]
    assert [e.id for e in wh.list(limit=10, order="asc", before_id=ids[3]).data] == ids[:3]
    assert len(wh.list(limit=0).data) == 5  # 0 means the default, 20
    for bad in ({"limit": 101}, {"limit": -1}, {"order": "sideways"}, {"after_id": "ep_nope"}):
        with pytest.raises(anthropic.BadRequestError) as caught:
            wh.list(**bad)
        assert caught.value.body["error"]["type"] == "invalid_request_error"


def test_urls_follow_the_consoles_rules_with_the_ssrf_guard_on(live_server, org, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []  # nothing private allowed, not even the tests' loopback
    settings.WEBHOOKS_REQUIRE_HTTPS = True
    wh = hooks(live_server, org)
    private = "url: This URL points to a private or local network address"
    refusals = {
        "http://hooks.acme.example/in": "url: Enter an HTTPS URL",
        "https://127.0.0.1/in": private,
        "https://10.0.0.5/in": private,
        "https://169.254.169.254/latest/meta-data": private,
        "https://[::1]/in": private,
        "https://user:pw@hooks.acme.example/in": "url: Leave the user name and password out",
    }
    for url, message in refusals.items():
        with pytest.raises(anthropic.BadRequestError) as caught:
            wh.create(url=url, enabled_events=["invoice.paid"])
        assert caught.value.body["error"]["message"].startswith(message), (url, caught.value.body)
    with pytest.raises(anthropic.BadRequestError) as caught:
        wh.create(url="https://93.184.215.14/in", enabled_events=["invoice.exploded"])
    assert caught.value.body["error"]["message"].startswith("events: Unknown event")
    for body in ({"enabled_events": ["invoice.paid"]}, {"url": "https://93.184.215.14/in"},
                 {"url": 7, "enabled_events": ["invoice.paid"]},
                 {"url": "https://93.184.215.14/in", "enabled_events": "invoice.paid"},
                 {"url": "https://93.184.215.14/in", "enabled_events": ["invoice.paid"], "name": "Finance"}):
        with pytest.raises(anthropic.BadRequestError):
            wh._client.post(
                "/v1/organizations/webhooks", body=body, cast_to=object)
    assert not WebhookEndpoint.objects.exists() and not AuditEntry.objects.filter(
        action__startswith="webhook_endpoint.").exists()
    # A public address is accepted; moving it to a private one later is refused and changes nothing.
    created = wh.create(url="https://93.184.215.14/in", enabled_events=["invoice.paid"])
    with pytest.raises(anthropic.BadRequestError):
        wh.update(created.id, url="https://192.168.1.20/in")
    assert WebhookEndpoint.objects.get(public_id=created.id).url == "https://93.184.215.14/in"


def test_scopes_are_refused_in_the_envelope(live_server, org, no_dns):
    endpoint, _ = endpoint_create(organization=org, url=URL, events=["invoice.paid"], now=timezone.now())
    read_only = hooks(live_server, org, scopes=(READ,))
    assert [e.id for e in read_only.list()] == [endpoint.public_id]
    for call in (lambda: read_only.create(url=URL, enabled_events=["invoice.paid"]),
                 lambda: read_only.update(endpoint.public_id, state="disabled"),
                 lambda: read_only.regenerate_signing_secret(endpoint.public_id),
                 lambda: read_only.delete(endpoint.public_id)):
        with pytest.raises(anthropic.PermissionDeniedError) as caught:
            call()
        assert caught.value.body["error"] == {"type": "permission_error",
                                              "message": "this API key does not have the write:webhooks scope"}
    write_only = hooks(live_server, org, scopes=(WRITE,))
    with pytest.raises(anthropic.PermissionDeniedError):
        write_only.list()
    with pytest.raises(anthropic.PermissionDeniedError):
        write_only.retrieve(endpoint.public_id)
    spend_only = hooks(live_server, org, scopes=(AdminScope.READ_SPEND_LIMITS, AdminScope.WRITE_SPEND_LIMITS))
    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        spend_only.list()
    assert "read:webhooks" in caught.value.body["error"]["message"]
    endpoint.refresh_from_db()
    assert endpoint.enabled and WebhookEndpoint.objects.count() == 1


def test_another_organizations_endpoint_is_not_found(live_server, org, no_dns):
    other = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="other")
    theirs, _ = endpoint_create(organization=other, url=URL, events=["invoice.paid"], now=timezone.now())
    wh = hooks(live_server, org)
    for call in (lambda: wh.retrieve(theirs.public_id), lambda: wh.update(theirs.public_id, state="disabled"),
                 lambda: wh.regenerate_signing_secret(theirs.public_id), lambda: wh.delete(theirs.public_id)):
        with pytest.raises(anthropic.NotFoundError) as caught:
            call()
        assert caught.value.body["error"] == {"type": "not_found_error", "message": "webhook endpoint not found"}
    assert wh.list().data == []
    with pytest.raises(anthropic.BadRequestError):
        wh.list(after_id=theirs.public_id)
    before = theirs.secret
    theirs.refresh_from_db()
    assert theirs.enabled and theirs.secret == before


def test_a_team_organization_is_refused_like_the_other_admin_endpoints(live_server, no_dns):
    team = OrganizationFactory(plan_kind=PlanKind.TEAM, slug="team")
    key = admin_key(OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT), scopes=[READ])
    AdminApiKey.objects.update(organization=team)  # made on an Enterprise organization, then moved (a plan change)
    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk(live_server, key).beta.organization.webhooks.list()
    assert caught.value.body["error"]["details"] == {"error_code": "organization_type_not_supported"}
