"""The Admin API's shapes, as the official `anthropic` SDK (2.12.0) parses them: they make the OpenAPI schema
(`/v1/organizations/openapi.json`). Handlers answer with plain JsonResponses built by the presenters (a page of
1,000 report rows is not validated a second time), so these models document the wire; the tests drive the SDK.

Request bodies are read by the handlers themselves (each refusal names the contract's exact message) and are
described here as JSON Schema for the operations' `requestBody`.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Schema
from pydantic import Field

# --- Spend limits --------------------------------------------------------------------------------------------

Period = Literal["daily", "weekly", "monthly"]
CENTS = {"type": "string", "pattern": "^[0-9]+$", "description": "Integer amount in cents (USD)."}


class UserActor(Schema):
    type: Literal["user_actor"]
    user_id: str | None
    name: str | None
    email_address: str | None
    deleted: bool


class ScopedApiKeyActor(Schema):
    type: Literal["scoped_api_key_actor"]
    scoped_api_key_id: str


class UserScope(Schema):
    type: Literal["user"]
    user_id: str


class SeatTierScope(Schema):
    type: Literal["seat_tier"]
    seat_tier: str = Field(examples=["enterprise_standard"])


class OrganizationScope(Schema):
    type: Literal["organization"]


SpendScope = UserScope | SeatTierScope | OrganizationScope


class SpendLimit(Schema):
    type: Literal["spend_limit"]
    id: str = Field(pattern="^spl_")
    scope: SpendScope
    amount: str | None = Field(description="Integer cents; null: no cap at this level.")
    currency: str
    period: Period
    is_enabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class SpendSummary(Schema):
    scope: UserScope
    actor: UserActor
    amount: str | None
    currency: str
    period: Period
    source: SpendScope
    spend_limit_id: str
    period_to_date_spend: str = Field(pattern=r"^[0-9]+(\.[0-9]{1,3})?$")


class SpendLimitIncreaseRequest(Schema):
    type: Literal["spend_limit_increase_request"]
    id: str = Field(pattern="^slir_")
    created_at: dt.datetime
    status: Literal["pending", "approved", "denied"]
    period: Period
    resolved_at: dt.datetime | None
    resolved_by: UserActor | ScopedApiKeyActor | None
    actor: UserActor
    spend_summary: SpendSummary | None
    # Beyond the SDK's model (it ignores them): what the member sent, and why a request closed by itself.
    note: str | None = None
    requested_amount: str | None = Field(default=None, pattern=r"^[0-9]+$")
    resolution: Literal["no_longer_needed"] | None = None


class IncreaseRequestApproveResponse(SpendLimitIncreaseRequest):
    spend_limit: SpendLimit | None


class SpendLimitDeleted(Schema):
    type: Literal["spend_limit_deleted"]
    id: str


class SpendSummaryPage(Schema):
    data: list[SpendSummary]
    next_page: str | None


class SpendLimitPage(Schema):
    data: list[SpendLimit]
    next_page: str | None


class IncreaseRequestPage(Schema):
    data: list[SpendLimitIncreaseRequest]
    next_page: str | None


class ErrorDetail(Schema):
    type: str
    message: str
    details: dict | None = None


class ErrorOut(Schema):
    type: Literal["error"]
    error: ErrorDetail
    request_id: str


_SCOPE_BODY = {"oneOf": [
    {"type": "object", "required": ["type", "user_id"],
     "properties": {"type": {"const": "user"}, "user_id": {"type": "string", "pattern": "^user_[A-Za-z0-9]+$"}}},
    {"type": "object", "required": ["type", "seat_tier"],
     "properties": {"type": {"const": "seat_tier"}, "seat_tier": {"type": "string"}}},
    {"type": "object", "required": ["type"], "properties": {"type": {"const": "organization"}}},
]}
_PERIOD_BODY = {"anyOf": [{"type": "string", "enum": ["daily", "weekly", "monthly"]}, {"type": "null"}]}


def json_body(schema: dict) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


SET_BODY = json_body({"type": "object", "required": ["scope", "amount"], "properties": {
    "scope": _SCOPE_BODY, "amount": {"anyOf": [CENTS, {"type": "null"}]}, "period": _PERIOD_BODY}})
APPROVE_BODY = json_body({"type": "object", "required": ["amount"], "properties": {
    "amount": CENTS, "period": _PERIOD_BODY, "suppress_notification": {"type": "boolean", "default": False}}})
DENY_BODY = json_body({"type": "object", "properties": {
    "suppress_notification": {"type": "boolean", "default": False}}})


# --- Usage and Cost Analytics --------------------------------------------------------------------------------

ContextWindow = Literal["0-200k", "200k-1M"]
TokenType = Literal["cache_creation.ephemeral_1h_input_tokens", "cache_creation.ephemeral_5m_input_tokens",
                    "cache_read_input_tokens", "output_tokens", "uncached_input_tokens"]


class AnalyticsUserActor(Schema):
    type: Literal["user_actor"]
    user_id: str
    email_address: str | None
    name: str | None
    deleted: bool = Field(description="The member was removed from the organization, or the account deleted.")


class CostGroup(Schema):
    actor: AnalyticsUserActor | None
    actor_type: Literal["user_actor"] | None
    context_window: ContextWindow | None
    cost_type: Literal["tokens"] | None
    model: str | None
    product: str | None
    token_type: TokenType | None


class CostMetrics(Schema):
    amount: str = Field(description="Fractional cents, exact (no rounding).")
    list_amount: str
    currency: str
    requests: int | None


class CostItem(Schema):
    starting_at: dt.datetime
    ending_at: dt.datetime
    group: CostGroup
    cost: CostMetrics


class CacheCreation(Schema):
    ephemeral_1h_input_tokens: int
    ephemeral_5m_input_tokens: int


class ServerToolUse(Schema):
    web_search_requests: int


class UsageMetrics(Schema):
    uncached_input_tokens: int
    cache_creation: CacheCreation
    cache_read_input_tokens: int
    output_tokens: int
    server_tool_use: ServerToolUse
    total_tokens: int
    requests: int | None


class UsageGroup(Schema):
    actor: AnalyticsUserActor | None
    actor_type: Literal["user_actor"] | None
    context_window: ContextWindow | None
    model: str | None
    product: str | None


class UsageItem(Schema):
    starting_at: dt.datetime
    ending_at: dt.datetime
    group: UsageGroup
    usage: UsageMetrics


class CostBucketedResult(Schema):
    amount: str
    list_amount: str
    currency: str
    requests: int | None
    context_window: ContextWindow | None
    cost_type: Literal["tokens"] | None
    model: str | None
    product: str | None
    token_type: TokenType | None


class CostReportTimeBucket(Schema):
    starting_at: dt.datetime
    ending_at: dt.datetime
    results: list[CostBucketedResult]


class UsageBucketedResult(Schema):
    uncached_input_tokens: int
    cache_creation: CacheCreation
    cache_read_input_tokens: int
    output_tokens: int
    server_tool_use: ServerToolUse
    requests: int | None
    context_window: ContextWindow | None
    model: str | None
    product: str | None


class UsageReportTimeBucket(Schema):
    starting_at: dt.datetime
    ending_at: dt.datetime
    results: list[UsageBucketedResult]


class CostUsersItem(CostBucketedResult):
    actor: AnalyticsUserActor
    starting_at: dt.datetime | None
    ending_at: dt.datetime | None


class UsageUsersItem(UsageBucketedResult):
    actor: AnalyticsUserActor
    total_tokens: int
    starting_at: dt.datetime | None
    ending_at: dt.datetime | None


class _ReportPage(Schema):
    has_more: bool
    next_page: str | None
    data_refreshed_at: dt.datetime = Field(description="The rollups are written in each event's transaction: "
                                                       "the report is current as of this time.")


class CostPage(_ReportPage):
    data: list[CostItem]


class UsagePage(_ReportPage):
    data: list[UsageItem]


class CostReportPage(_ReportPage):
    data: list[CostReportTimeBucket]


class UsageReportPage(_ReportPage):
    data: list[UsageReportTimeBucket]


class UserCostReportPage(_ReportPage):
    data: list[CostUsersItem]


class UserUsageReportPage(_ReportPage):
    data: list[UsageUsersItem]


# --- Webhook endpoints (issue 24; `client.beta.organization.webhooks`) ----------------------------------------


class WebhookEndpoint(Schema):
    type: Literal["webhook_endpoint"]
    id: str = Field(description="`ep_…`")
    url: str
    name: str = Field(description="Always empty: the portal's endpoints have a description, not a name.")
    description: str
    enabled_events: list[str]
    state: Literal["enabled", "disabled"]
    disabled_reason: str = Field(description="Why the endpoint is disabled; empty while enabled.")
    created_at: dt.datetime
    updated_at: dt.datetime


class NewWebhookEndpoint(WebhookEndpoint):
    signing_secret: str = Field(description="The signing secret (`whsec_…`), in this answer only: keep it.")


class WebhookEndpointSigningSecret(Schema):
    signing_secret: str = Field(description="The new secret, in this answer only. The previous one keeps "
                                            "signing for 24 hours.")


class WebhookEndpointPage(Schema):
    data: list[WebhookEndpoint]
    has_more: bool
    first_id: str | None
    last_id: str | None


class WebhookEndpointDeleted(Schema):
    type: Literal["webhook_endpoint_deleted"]
    id: str


_ENDPOINT_FIELDS = {
    "url": {"type": "string", "maxLength": 500,
            "description": "An HTTPS URL whose host resolves only to public addresses."},
    "enabled_events": {"type": "array", "items": {"type": "string"},
                       "description": "Event types (see /api/webhooks/openapi.json)."},
    "description": {"type": "string", "maxLength": 200},
    "name": {"type": "string", "maxLength": 0, "description": "Not supported: leave it out or empty."},
}
WEBHOOK_CREATE_BODY = json_body({"type": "object", "required": ["url", "enabled_events"],
                                 "properties": _ENDPOINT_FIELDS})
WEBHOOK_UPDATE_BODY = json_body({"type": "object", "properties": {
    **_ENDPOINT_FIELDS, "state": {"type": "string", "enum": ["enabled", "disabled"]}}})
