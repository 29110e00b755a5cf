"""Machine API keys: hashed at rest, shown once, revocable at once, scoped to one organization."""

import hashlib

import pytest
from django.db import connection

from apps.organizations.models import ApiKey, AuditEntry
from apps.organizations.services import api_key_create, api_key_revoke
from apps.usage.models import UsageEvent
from tests.conftest import ApiClient
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db


def _usage(key: str, email: str) -> dict:
    return {"idempotency_key": key, "member": email, "product": "chat", "model": "claude-sonnet-4-5",
            "usage": {"input_tokens": 100, "output_tokens": 10}}


def test_raw_key_is_never_stored_only_its_digest():
    org = OrganizationFactory()
    key, raw = api_key_create(organization=org, name="ci")
    assert key.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert raw.startswith(key.prefix) and len(key.prefix) < len(raw) // 3
    # Search every text column of the key and audit tables for the raw key (or its secret part).
    secret = raw[len(key.prefix):]
    with connection.cursor() as cursor:
        for table in (ApiKey._meta.db_table, AuditEntry._meta.db_table):
            cursor.execute(f"SELECT * FROM {table}")
            dump = repr(cursor.fetchall())
            assert raw not in dump and secret not in dump, table


def test_key_is_shown_once_the_row_cannot_give_it_back():
    org = OrganizationFactory()
    key, raw = api_key_create(organization=org, name="ci")
    reloaded = ApiKey.objects.get(pk=key.pk)
    shown = " ".join(str(getattr(reloaded, f.attname)) for f in ApiKey._meta.concrete_fields) + str(reloaded)
    assert raw not in shown
    # The prefix alone (what the pages show to recognise a key) does not authenticate.
    assert ApiClient(reloaded.prefix).post("/admission", {"member": "x@example.com", "product": "chat",
                                                          "model": "claude-sonnet-4-5"}).status_code == 401


def test_revoked_key_is_refused_on_the_very_next_request():
    org = OrganizationFactory()
    member(org, email="dev@acme.example")
    key, raw = api_key_create(organization=org, name="ci")
    client = ApiClient(raw)
    assert client.post("/usage", _usage("before", "dev@acme.example")).status_code == 201
    api_key_revoke(key=key)
    refused = client.post("/usage", _usage("after", "dev@acme.example"))
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "authentication_error"
    assert client.post("/admission", {"member": "dev@acme.example", "product": "chat",
                                      "model": "claude-sonnet-4-5"}).status_code == 401
    assert list(UsageEvent.objects.values_list("idempotency_key", flat=True)) == ["before"]
    assert AuditEntry.objects.filter(action="api_key.revoke", target=key.public_id).count() == 1


def test_a_key_cannot_admit_or_charge_another_organizations_member():
    acme, globex = OrganizationFactory(), OrganizationFactory()
    member(acme, email="dev@acme.example")
    victim = member(globex, email="dev@globex.example")
    _, acme_raw = api_key_create(organization=acme, name="ci")
    client = ApiClient(acme_raw)
    admission = client.post("/admission", {"member": "dev@globex.example", "product": "chat",
                                           "model": "claude-sonnet-4-5"})
    assert admission.status_code == 400
    assert admission.json()["error"]["field"] == "member"
    usage = client.post("/usage", _usage("steal", "dev@globex.example"))
    assert usage.status_code == 400
    assert usage.json()["error"]["message"] == "member: is not a member of this organization"
    batch = client.post("/usage/batch", {"events": [_usage("steal-2", "dev@globex.example")]})
    assert batch.json()["results"][0]["status"] == 400
    assert not UsageEvent.objects.filter(membership=victim).exists()
    assert not UsageEvent.objects.exists()


def test_missing_or_malformed_authorization_is_401_with_a_json_error():
    org = OrganizationFactory()
    member(org, email="dev@acme.example")
    for header in ({}, {"HTTP_AUTHORIZATION": "Bearer "}, {"HTTP_AUTHORIZATION": "Basic abc"},
                   {"HTTP_AUTHORIZATION": "Bearer " + "x" * 5000}, {"HTTP_AUTHORIZATION": "Bearer bp_live_\u0000"}):
        client = ApiClient("unused").client
        response = client.post("/api/v1/usage", data=_usage("k", "dev@acme.example"),
                               content_type="application/json", **header)
        assert response.status_code == 401, header
        assert "API key" in response.json()["error"]["message"]
