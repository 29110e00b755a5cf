"""The published schema of the webhook events: an OpenAPI 3.1 document whose `webhooks` hold one operation per
event type, each with its own JSON Schema (Standard Webhooks envelope `{id, type, timestamp, data}` around the
event's `data`, as `payloads.py` builds it and `transport.body_encode` sends it).

The shapes are pydantic models (the library django-ninja already uses), so the JSON Schema is generated, not
written by hand. Every model forbids extra properties: a field added to a payload without adding it here fails
the tests that validate each emitted payload against this schema (tests/webhooks/test_schema.py).

Served at `/api/webhooks/openapi.json`, rendered beside the API docs at `/api/webhooks/docs`.
"""

from __future__ import annotations

import functools
from typing import Literal

from django.conf import settings
from django.utils import translation
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from .models import TEST_EVENT_TYPE, EventType

DECIMAL = r"^-?[0-9]+(\.[0-9]+)?$"
DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
UTC_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$"


def _money(description: str):
    return Field(pattern=DECIMAL, description=description + " A decimal string in `currency`.",
                 examples=["125.50"])


def _time(description: str):
    return Field(pattern=UTC_TIME, description=description + " ISO 8601, UTC.", examples=["2026-11-01T00:15:00Z"])


def _date(description: str):
    return Field(pattern=DATE, description=description, examples=["2026-11-01"])


def _currency():
    return Field(pattern="^[A-Z]{3}$", examples=["USD"])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrganizationRef(_Strict):
    """The organization the event happened in."""

    id: int = Field(description="The organization's id (stable for its whole life).", examples=[42])
    slug: str = Field(description="The organization's slug, as in the console's URLs.", examples=["acme"])


class _Data(_Strict):
    organization: OrganizationRef


class SpendNoticeData(_Data):
    scope: Literal["member_limit", "member_allowance", "org_cap"] = Field(
        description="Whose limit: a member's spend limit, a member's included usage, or the organization's cap.")
    member: str | None = Field(description="The member's email; null for the organization's cap.")
    threshold_percent: int = Field(ge=0, description="The threshold crossed, in percent of `limit`.")
    limit: str | None = Field(pattern=DECIMAL, description="The limit, a decimal string in `currency`.",
                              examples=["500.00"])
    spend: str = _money("Spend in the period when the threshold was crossed.")
    currency: str = _currency()
    period_start: str = _date("First day of the month the spend belongs to.")


class ExtraUsageRequestData(_Data):
    request_id: str = Field(description="The request's id.")
    member: str = Field(description="Email of the member who asked.")
    status: Literal["pending", "approved", "denied"]
    created_at: str = _time("When the member asked.")
    resolved_at: str | None = Field(pattern=UTC_TIME, description="When it was decided; null while pending.",
                                    examples=["2026-11-02T09:30:00Z"])
    approved_amount: str | None = Field(pattern=DECIMAL, description="The limit granted on approval, else null.",
                                        examples=["50.00"])


class PrepaidReloadData(_Data):
    amount: str = _money("The amount of the reload.")
    currency: str = _currency()
    idempotency_key: str = Field(description="The reload's key with the payment provider.")
    payment_reference: str | None = Field(description="The provider's reference of the payment; null if none.")
    error: str | None = Field(description="Why the payment failed; null when it succeeded.")
    settled_at: str | None = Field(pattern=UTC_TIME, description="When the payment settled; null if it did not.",
                                   examples=["2026-11-02T09:30:00Z"])


class InvoiceData(_Data):
    number: str = Field(description="The invoice number.")
    status: Literal["draft", "open", "paid", "void", "uncollectible"]
    total: str = _money("The invoice's total.")
    currency: str = _currency()
    period_start: str = _date("First day billed.")
    period_end: str = _date("Last day billed.")
    issued_at: str | None = Field(pattern=UTC_TIME, description="When it was issued.",
                                  examples=["2026-11-01T00:15:00Z"])


class InvoicePaidData(InvoiceData):
    paid_at: str = _time("When the payment was recorded.")
    source: Literal["stripe", "admin", "card", "credit_note"] = Field(
        description="Where the payment was recorded: a Stripe invoice, staff, a card payment on the invoice page, or a "
                    "credit note that settled it.")


class TestEventData(_Data):
    message: str
    sent_by: str | None = Field(description="Email of the person who sent the test.")
    endpoint: str = Field(description="The id of the endpoint tested.")


# Every event type and the model of its `data` (a test checks EventType and this agree).
EVENT_DATA: dict[str, type[_Data]] = {
    EventType.SPEND_THRESHOLD_REACHED.value: SpendNoticeData,
    EventType.SPEND_CAP_REACHED.value: SpendNoticeData,
    EventType.EXTRA_USAGE_REQUEST_CREATED.value: ExtraUsageRequestData,
    EventType.EXTRA_USAGE_REQUEST_DECIDED.value: ExtraUsageRequestData,
    EventType.PREPAID_RELOADED.value: PrepaidReloadData,
    EventType.PREPAID_RELOAD_FAILED.value: PrepaidReloadData,
    EventType.INVOICE_ISSUED.value: InvoiceData,
    EventType.INVOICE_PAID.value: InvoicePaidData,
    TEST_EVENT_TYPE: TestEventData,
}
TEST_EVENT_DESCRIPTION = "A test event, sent by “Send test event” to one endpoint only."


def _descriptions() -> dict[str, str]:
    with translation.override("en"):  # the published schema is in English, whatever the request's language
        return {**{value: str(label) for value, label in EventType.choices}, TEST_EVENT_TYPE: TEST_EVENT_DESCRIPTION}


def _envelope_name(event_type: str) -> str:
    return "Event_" + event_type.replace(".", "_")


def _envelope(event_type: str, description: str) -> dict:
    return {
        "type": "object", "additionalProperties": False, "required": ["id", "type", "timestamp", "data"],
        "description": description,
        "properties": {
            "id": {"type": "string", "pattern": "^msg_[A-Za-z0-9]+$", "examples": ["msg_2xWq8dV1uQ7cJ3kLmN0pRs"],
                   "description": "The message id, the same on every retry (also the `webhook-id` header)."},
            "type": {"const": event_type},
            "timestamp": {"type": "string", "pattern": UTC_TIME, "description": "When the event happened.",
                          "examples": ["2026-11-01T00:15:00Z"]},
            "data": {"$ref": f"#/components/schemas/{EVENT_DATA[event_type].__name__}"},
        },
    }


@functools.cache
def webhooks_openapi() -> dict:
    """The OpenAPI 3.1 document of the webhook events (built once per process)."""
    _, defs = models_json_schema([(model, "validation") for model in set(EVENT_DATA.values())],
                                 ref_template="#/components/schemas/{model}")
    schemas = dict(sorted(defs["$defs"].items()))
    webhooks, descriptions = {}, _descriptions()
    for event_type in EVENT_DATA:
        schemas[_envelope_name(event_type)] = _envelope(event_type, descriptions[event_type])
        webhooks[event_type] = {"post": {
            "operationId": event_type.replace(".", "_"), "summary": descriptions[event_type],
            "description": f"Sent with `type: {event_type}`, signed per Standard Webhooks (`webhook-id`, "
                           "`webhook-timestamp`, `webhook-signature`).",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{_envelope_name(event_type)}"}}}},
            "responses": {"200": {"description": "Any 2xx marks the delivery done; anything else is retried "
                                                 "for 24 hours."}},
        }}
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{settings.BRAND_NAME} webhook events", "version": "2026-12-01",
                 "description": "The events the portal POSTs to an organization's webhook endpoints. Every "
                                "`data` names its `organization` (id and slug)."},
        "paths": {},
        "webhooks": webhooks,
        "components": {"schemas": schemas},
    }


def event_schema(event_type: str) -> dict:
    """The JSON Schema of one event's whole body, self-contained (its references resolve inside it)."""
    document = webhooks_openapi()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            **document["components"]["schemas"][_envelope_name(event_type)],
            "components": document["components"]}
