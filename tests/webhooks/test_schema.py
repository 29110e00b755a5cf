"""The published webhook schema (apps/webhooks/schema.py): one OpenAPI `webhooks` entry per event type, served
beside the API docs; every payload the portal emits validates against it (test_events.py checks each emitted
event through `assert_body_matches_schema`; here the test event, and refusals of wrong payloads)."""

import copy
import json

import pytest
from django.utils import timezone
from jsonschema import Draft202012Validator

from apps.webhooks.models import TEST_EVENT_TYPE, EventType, WebhookEvent
from apps.webhooks.schema import event_schema, webhooks_openapi
from apps.webhooks.services import webhook_test_send
from tests.webhooks.conftest import assert_body_matches_schema, endpoint_for, owner_of

pytestmark = pytest.mark.django_db


def test_every_event_type_has_a_schema_naming_the_organization():
    document = webhooks_openapi()
    assert set(document["webhooks"]) == {*EventType.values, TEST_EVENT_TYPE}
    for event_type in document["webhooks"]:
        schema = event_schema(event_type)
        Draft202012Validator.check_schema(schema)
        data = schema["components"]["schemas"][schema["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
        assert "organization" in data["required"]
    assert document["components"]["schemas"]["OrganizationRef"]["required"] == ["id", "slug"]


def test_the_schema_is_served_beside_the_docs(client):
    response = client.get("/api/webhooks/openapi.json")
    assert response.status_code == 200
    assert json.loads(response.content)["webhooks"].keys() == webhooks_openapi()["webhooks"].keys()


def test_the_test_event_validates(org):
    endpoint, _ = endpoint_for(org, "https://hooks.acme.example/in")
    delivery = webhook_test_send(endpoint=endpoint, actor=owner_of(org), now=timezone.now())
    data = assert_body_matches_schema(delivery.event)
    assert data["endpoint"] == endpoint.public_id and data["sent_by"] == "owner@acme.example"


def test_a_payload_missing_its_organization_or_with_an_unknown_field_is_refused(org):
    endpoint, _ = endpoint_for(org, "https://hooks.acme.example/in")
    event = webhook_test_send(endpoint=endpoint, actor=owner_of(org), now=timezone.now()).event
    for change in ({"organization": None}, {"surprise": 1}, {"organization": {"id": org.pk}}):
        bad = WebhookEvent(organization=org, public_id=event.public_id, event_type=event.event_type,
                           created_at=event.created_at, payload={**copy.deepcopy(event.payload), **change})
        bad.payload = {k: v for k, v in bad.payload.items() if v is not None}
        with pytest.raises(AssertionError):
            assert_body_matches_schema(bad)
