"""The Admin API under `/v1/organizations/...`, served by django-ninja like the machine API: the Spend Limits API
(`client.beta.organization.spend_limits`) and the Usage and Cost Analytics API
(`client.beta.organization.analytics`) of the official `anthropic` SDK, so that scripts written against the
published API work unchanged with `base_url=` pointed at the portal.

- Keys: Admin API keys (`AdminApiKey`), in `x-api-key` or `Authorization: Bearer` (the SDK sends the latter).
  Missing, unknown or revoked → 401 `authentication_error` (a deliberate choice over the documented 404). Then
  the rate limit (60 requests per minute per organization across every endpoint, `ratelimit.py`: 429 +
  `retry-after`), then the endpoint's scope (`read:spend_limits` for spend-limit GETs, `write:spend_limits` for
  their writes, `read:analytics` for the reports: 403 `permission_error`), then the plan: Enterprise only
  (Team → 400 `organization_type_not_supported`).
- Every answer carries a `request-id` header; every error is the documented envelope (errors.py), including
  ninja's own refusals (a parameter of the wrong type, a wrong method, an unknown path) and a bug (500).
- The handlers (spend_limits.py, analytics.py) read the bracketed list parameters (`user_ids[]`) and bodies
  themselves so every refusal carries the contract's message; the parameters declared here make the generated
  OpenAPI schema (`/v1/organizations/openapi.json`), which schemathesis fuzzes.
"""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from ninja import NinjaAPI, Query, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyHeader
from pydantic import Field

from apps.common.ids import new_public_id
from apps.common.metrics import RATE_LIMIT_REFUSALS

from . import analytics, schemas, spend_limits, webhook_endpoints
from .errors import ApiError, Call, bad_request
from .models import AdminApiKey, AdminScope
from .ratelimit import rate_limit_hit
from .selectors import admin_api_key_authenticate
from .services import admin_api_key_touch

logger = logging.getLogger(__name__)

PREFIX = "/v1/organizations"
READ, WRITE = AdminScope.READ_SPEND_LIMITS.value, AdminScope.WRITE_SPEND_LIMITS.value
READ_ANALYTICS = AdminScope.READ_ANALYTICS.value
READ_WEBHOOKS, WRITE_WEBHOOKS = AdminScope.READ_WEBHOOKS.value, AdminScope.WRITE_WEBHOOKS.value
SPEND_LIMITS_TAG, ANALYTICS_TAG, WEBHOOKS_TAG = ["Spend limits"], ["Usage and cost analytics"], ["Webhook endpoints"]
ORG_TYPE_MESSAGE = "this endpoint is not supported for this organization type"


def _raw_key(request: HttpRequest) -> str:
    raw = request.headers.get("x-api-key", "").strip()
    if raw:
        return raw
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class AdminApiKeyAuth(APIKeyHeader):
    """The Admin API key, from `x-api-key` or `Authorization: Bearer`; then the organization's rate limit."""

    param_name = "x-api-key"

    def _get_key(self, request: HttpRequest) -> str:
        return _raw_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> AdminApiKey:
        if not key:
            raise ApiError(401, "authentication_error", "x-api-key header is required")
        found = admin_api_key_authenticate(raw_key=key)
        if found is None:
            raise ApiError(401, "authentication_error", "invalid x-api-key")
        decision = rate_limit_hit(organization_id=found.organization_id)
        if not decision.allowed:
            RATE_LIMIT_REFUSALS.labels("admin").inc()
            raise ApiError(429, "rate_limit_error",
                           f"rate limit exceeded: {decision.limit} requests per minute per organization",
                           headers={"retry-after": str(decision.retry_after)})
        admin_api_key_touch(key=found, now=timezone.now())
        return found


class AdminNinjaAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation) -> str:
        return operation.view_func.__name__

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        return super().get_openapi_schema(path_prefix=PREFIX if path_prefix is None else path_prefix,
                                          path_params=path_params)


api = AdminNinjaAPI(
    title=f"{settings.BRAND_NAME} Admin API",
    version="2026-10-21",
    description="Compatible with `client.beta.organization.spend_limits` and `client.beta.organization.analytics` "
                "of the official anthropic SDK. Keys in `x-api-key` or `Authorization: Bearer`. 60 requests per "
                "minute per organization.",
    urls_namespace="admin_api_v1",
    auth=AdminApiKeyAuth(),
    openapi_url=None,  # served by api_urls.openapi_schema under its historical name
    docs_url=None,
)


def _request_id(request: HttpRequest) -> str:
    if not hasattr(request, "admin_api_request_id"):
        request.admin_api_request_id = new_public_id("req")
    return request.admin_api_request_id


def error_response(request: HttpRequest, error: ApiError) -> JsonResponse:
    body = {"type": error.type, "message": error.message}
    if error.error_code:
        body["details"] = {"error_code": error.error_code}
    response = JsonResponse({"type": "error", "error": body, "request_id": _request_id(request)},
                            status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


@api.exception_handler(ApiError)
def on_api_error(request, exc: ApiError):
    return error_response(request, exc)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request, exc):
    return error_response(request, ApiError(401, "authentication_error", "x-api-key header is required"))


@api.exception_handler(NinjaValidationError)
def on_validation_error(request, exc):
    first = (exc.errors or [{}])[0]
    loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body", "params")]
    field = loc[0] if loc else "request"
    return error_response(request, bad_request(f"{field}: {first.get('msg', 'is invalid')}"))


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    return error_response(request, ApiError(exc.status_code, "invalid_request_error", str(exc)))


@api.exception_handler(Exception)
def on_bug(request, exc):
    # The envelope must hold even for a bug; the traceback goes to the log.
    logger.exception("Admin API request %s failed", _request_id(request))
    return error_response(request, ApiError(500, "api_error", "internal error"))


def _call(request: HttpRequest, scope: str) -> Call:
    """The authenticated call, once the key is known to carry `scope` and its organization is Enterprise."""
    key: AdminApiKey = request.auth
    if not key.has_scope(scope):
        raise ApiError(403, "permission_error", f"this API key does not have the {scope} scope")
    if not key.organization.is_enterprise:
        raise bad_request(ORG_TYPE_MESSAGE, "organization_type_not_supported")
    return Call(key, key.organization, timezone.now(), _request_id(request))


def _answer(request: HttpRequest, scope: str, handler, **kwargs) -> JsonResponse:
    return JsonResponse(handler(request, _call(request, scope), **kwargs))


def _errors(ok) -> dict:
    return {200: ok, 400: schemas.ErrorOut, 401: schemas.ErrorOut, 403: schemas.ErrorOut, 404: schemas.ErrorOut,
            429: schemas.ErrorOut}


def _list(name: str, description: str = ""):
    return Query(None, alias=f"{name}[]", description=description)


# --- Spend limits (scopes read:spend_limits / write:spend_limits) -------------------------------------------

LIMIT = Query(None, description="Page size (1-1000, default 20).")
PAGE = Query(None, description="Opaque cursor from `next_page`.")
USER_IDS = _list("user_ids", "At most 100 member ids.")
PERIODS = _list("period", "Only `monthly` is supported.")
SCOPE_TYPES = _list("scope_type", "organization, seat_tier, user")
STATUSES = _list("status", "pending, approved, denied")
ACTOR_IDS = _list("actor_ids", "Member ids (`user_…`).")


# `effective` before `{spend_limit_id}`: it would otherwise be read as a spend-limit id.
@api.get("/spend_limits/effective", url_name="effective", response=_errors(schemas.SpendSummaryPage),
         summary="List effective spend limits (one row per member)", description="Scope: `read:spend_limits`.",
         tags=SPEND_LIMITS_TAG)
def effective_list(request, user_ids: list[str] | None = USER_IDS, period: list[str] | None = PERIODS,
                   limit: int | None = LIMIT, page: str | None = PAGE):
    return _answer(request, READ, spend_limits.effective_list)


@api.get("/spend_limits", url_name="spend_limits", response=_errors(schemas.SpendLimitPage),
         summary="List configured spend limits (preview)", description="Scope: `read:spend_limits`.",
         tags=SPEND_LIMITS_TAG)
def spend_limits_list(request, scope_type: list[str] | None = SCOPE_TYPES,
                      workspace_id: str | None = None, limit: int | None = LIMIT, page: str | None = PAGE):
    return _answer(request, READ, spend_limits.spend_limits_list)


@api.post("/spend_limits", url_name="spend_limits", response=_errors(schemas.SpendLimit),
          summary="Set a member's spend limit (upsert on scope and period)", openapi_extra=schemas.SET_BODY,
          description="Scope: `write:spend_limits`.", tags=SPEND_LIMITS_TAG)
def spend_limit_set(request):
    return _answer(request, WRITE, spend_limits.spend_limit_set)


@api.get("/spend_limits/{spend_limit_id}", url_name="spend_limit", response=_errors(schemas.SpendLimit),
         summary="Get a spend limit", description="Scope: `read:spend_limits`.", tags=SPEND_LIMITS_TAG)
def spend_limit_retrieve(request, spend_limit_id: str):
    return _answer(request, READ, spend_limits.spend_limit_retrieve, spend_limit_id=spend_limit_id)


@api.delete("/spend_limits/{spend_limit_id}", url_name="spend_limit",
            response=_errors(schemas.SpendLimitDeleted), summary="Remove a member's spend limit",
            description="Scope: `write:spend_limits`.", tags=SPEND_LIMITS_TAG)
def spend_limit_delete(request, spend_limit_id: str):
    return _answer(request, WRITE, spend_limits.spend_limit_delete, spend_limit_id=spend_limit_id)


@api.get("/spend_limit_increase_requests", url_name="increase_requests",
         response=_errors(schemas.IncreaseRequestPage), summary="List spend-limit increase requests (newest first)",
         description="Scope: `read:spend_limits`.", tags=SPEND_LIMITS_TAG)
def increase_requests_list(request, status: list[str] | None = STATUSES, actor_ids: list[str] | None = ACTOR_IDS,
                           limit: int | None = LIMIT, page: str | None = PAGE):
    return _answer(request, READ, spend_limits.increase_requests_list)


@api.get("/spend_limit_increase_requests/{request_id}", url_name="increase_request",
         response=_errors(schemas.SpendLimitIncreaseRequest), summary="Get an increase request",
         description="Scope: `read:spend_limits`.", tags=SPEND_LIMITS_TAG)
def increase_request_retrieve(request, request_id: str):
    return _answer(request, READ, spend_limits.increase_request_retrieve, request_id=request_id)


@api.post("/spend_limit_increase_requests/{request_id}/approve", url_name="increase_request_approve",
          response=_errors(schemas.IncreaseRequestApproveResponse), openapi_extra=schemas.APPROVE_BODY,
          summary="Approve: set the member's limit and enable their extra usage",
          description="Scope: `write:spend_limits`.", tags=SPEND_LIMITS_TAG)
def increase_request_approve(request, request_id: str):
    return _answer(request, WRITE, spend_limits.increase_request_approve, request_id=request_id)


@api.post("/spend_limit_increase_requests/{request_id}/deny", url_name="increase_request_deny",
          response=_errors(schemas.SpendLimitIncreaseRequest), openapi_extra=schemas.DENY_BODY,
          summary="Deny an increase request (a repeat deny is a no-op)", description="Scope: `write:spend_limits`.",
          tags=SPEND_LIMITS_TAG)
def increase_request_deny(request, request_id: str):
    return _answer(request, WRITE, spend_limits.increase_request_deny, request_id=request_id)


# --- Usage and Cost Analytics (scope read:analytics) --------------------------------------------------------

RANGE_HELP = ("RFC 3339 with a time zone. The range is [starting_at, ending_at), at most 31 days, read in whole "
              "UTC hours.")


class ReportParams(Schema):
    """The parameters every report reads (the handler validates them and names the culprit on a 400)."""

    starting_at: str = Field(description=RANGE_HELP)
    ending_at: str | None = Field(None, description="Exclusive. Default: the earlier of now and starting_at + 31 "
                                                    "days (required with a time bucket, except on the bucketed "
                                                    "legacy reports).")
    group_by: list[str] | None = Field(None, alias="group_by[]", description=(
        "actor, actor_type, product, model, context_window, and on cost reports cost_type and token_type. Other "
        "dimensions of the published API (workspaces, Slack, geo…) get 400 naming them."))
    models: list[str] | None = Field(None, alias="models[]", description="Model names (alias or API id).")
    products: list[str] | None = Field(None, alias="products[]", description="chat, claude_code, cowork.")
    context_windows: list[str] | None = Field(None, alias="context_windows[]", description="0-200k, 200k-1M.")
    limit: int | None = Field(None, description="Rows per page (1-1000, default 20); buckets per page on the "
                                                "bucketed legacy reports.")
    page: str | None = Field(None, description="Opaque cursor from `next_page`, bound to the other parameters.")


class CurrentReportParams(ReportParams):
    time_bucket_width: str | None = Field(None, description="1d or 1h.")
    actor_ids: list[str] | None = Field(None, alias="actor_ids[]", description="Member ids (`user_…`).")
    order: str | None = Field(None, description="asc or desc (default).")
    order_by: str | None = Field(None, description="cost: amount, list_amount, time; usage: total_tokens, "
                                                   "output_tokens, uncached_input_tokens, requests, time.")
    exclude_deleted_users: bool | None = Field(None, description="Requires group_by[]=actor.")


class LegacyReportParams(ReportParams):
    bucket_width: str | None = Field(None, description="1d (default) or 1h.")
    user_ids: list[str] | None = Field(None, alias="user_ids[]", description="Member ids (`user_…`).")


class LegacyUserReportParams(LegacyReportParams):
    order: str | None = None
    order_by: str | None = None
    exclude_deleted_users: bool | None = None


def _report(request, handler):
    return _answer(request, READ_ANALYTICS, handler)


@api.get("/analytics/cost", url_name="analytics_cost", response=_errors(schemas.CostPage),
         summary="Cost across a date range, broken out by dimension", description="Scope: `read:analytics`.",
         tags=ANALYTICS_TAG)
def analytics_cost(request, params: Query[CurrentReportParams]):
    return _report(request, analytics.cost_list)


@api.get("/analytics/usage", url_name="analytics_usage", response=_errors(schemas.UsagePage),
         summary="Token usage across a date range, broken out by dimension", description="Scope: `read:analytics`.",
         tags=ANALYTICS_TAG)
def analytics_usage(request, params: Query[CurrentReportParams]):
    return _report(request, analytics.usage_list)


@api.get("/analytics/cost_report", url_name="analytics_cost_report", response=_errors(schemas.CostReportPage),
         summary="[Legacy] Cost over time", description="Scope: `read:analytics`.", tags=ANALYTICS_TAG)
def analytics_cost_report(request, params: Query[LegacyReportParams]):
    return _report(request, analytics.cost_report_list)


@api.get("/analytics/usage_report", url_name="analytics_usage_report", response=_errors(schemas.UsageReportPage),
         summary="[Legacy] Token usage over time", description="Scope: `read:analytics`.", tags=ANALYTICS_TAG)
def analytics_usage_report(request, params: Query[LegacyReportParams]):
    return _report(request, analytics.usage_report_list)


@api.get("/analytics/user_cost_report", url_name="analytics_user_cost_report",
         response=_errors(schemas.UserCostReportPage), summary="[Legacy] Cost per member",
         description="Scope: `read:analytics`.", tags=ANALYTICS_TAG)
def analytics_user_cost_report(request, params: Query[LegacyUserReportParams]):
    return _report(request, analytics.user_cost_report_list)


@api.get("/analytics/user_usage_report", url_name="analytics_user_usage_report",
         response=_errors(schemas.UserUsageReportPage), summary="[Legacy] Token usage per member",
         description="Scope: `read:analytics`.", tags=ANALYTICS_TAG)
def analytics_user_usage_report(request, params: Query[LegacyUserReportParams]):
    return _report(request, analytics.user_usage_report_list)


# --- Webhook endpoints (scopes read:webhooks / write:webhooks; webhook_endpoints.py) -------------------------

WEBHOOK_LIMIT = Query(None, description="Page size (0-100; 0 or none: 20).")


@api.get("/webhooks", url_name="webhooks", response=_errors(schemas.WebhookEndpointPage),
         summary="List webhook endpoints", description="Scope: `read:webhooks`.", tags=WEBHOOKS_TAG)
def webhook_endpoints_list(request, after_id: str | None = None, before_id: str | None = None,
                           limit: int | None = WEBHOOK_LIMIT, order: str | None = Query(None, description="asc, "
                                                                                        "desc (default)")):
    return _answer(request, READ_WEBHOOKS, webhook_endpoints.webhook_endpoints_list)


@api.post("/webhooks", url_name="webhooks", response=_errors(schemas.NewWebhookEndpoint),
          summary="Create a webhook endpoint (its signing secret is in this answer only)",
          openapi_extra=schemas.WEBHOOK_CREATE_BODY, description="Scope: `write:webhooks`. The URL must be HTTPS "
          "and resolve only to public addresses, as on Settings > Webhooks.", tags=WEBHOOKS_TAG)
def webhook_endpoint_create(request):
    return _answer(request, WRITE_WEBHOOKS, webhook_endpoints.webhook_endpoint_create)


@api.get("/webhooks/{webhook_endpoint_id}", url_name="webhook", response=_errors(schemas.WebhookEndpoint),
         summary="Get a webhook endpoint", description="Scope: `read:webhooks`.", tags=WEBHOOKS_TAG)
def webhook_endpoint_retrieve(request, webhook_endpoint_id: str):
    return _answer(request, READ_WEBHOOKS, webhook_endpoints.webhook_endpoint_retrieve,
                   endpoint_id=webhook_endpoint_id)


@api.post("/webhooks/{webhook_endpoint_id}", url_name="webhook", response=_errors(schemas.WebhookEndpoint),
          summary="Update a webhook endpoint (only the fields sent)", openapi_extra=schemas.WEBHOOK_UPDATE_BODY,
          description="Scope: `write:webhooks`.", tags=WEBHOOKS_TAG)
def webhook_endpoint_update(request, webhook_endpoint_id: str):
    return _answer(request, WRITE_WEBHOOKS, webhook_endpoints.webhook_endpoint_update,
                   endpoint_id=webhook_endpoint_id)


@api.delete("/webhooks/{webhook_endpoint_id}", url_name="webhook", response=_errors(schemas.WebhookEndpointDeleted),
            summary="Delete a webhook endpoint and its delivery log", description="Scope: `write:webhooks`.",
            tags=WEBHOOKS_TAG)
def webhook_endpoint_delete(request, webhook_endpoint_id: str):
    return _answer(request, WRITE_WEBHOOKS, webhook_endpoints.webhook_endpoint_delete,
                   endpoint_id=webhook_endpoint_id)


@api.post("/webhooks/{webhook_endpoint_id}/regenerate_signing_secret", url_name="webhook_regenerate_secret",
          response=_errors(schemas.WebhookEndpointSigningSecret),
          summary="Regenerate the signing secret (the previous one signs too for 24 hours)",
          description="Scope: `write:webhooks`. The new secret is in this answer only.", tags=WEBHOOKS_TAG)
def webhook_endpoint_regenerate_signing_secret(request, webhook_endpoint_id: str):
    return _answer(request, WRITE_WEBHOOKS, webhook_endpoints.webhook_endpoint_regenerate_signing_secret,
                   endpoint_id=webhook_endpoint_id)


# --- URL patterns --------------------------------------------------------------------------------------------


def _envelope_everywhere(view):
    """Every answer carries `request-id`; django-ninja's plain-text 405 becomes the JSON envelope."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith("application/json"):
            allowed = response.get("Allow", "")
            response = error_response(request, ApiError(405, "invalid_request_error",
                                                        f"method {request.method} is not allowed here"))
            response["Allow"] = allowed
        response["request-id"] = _request_id(request)
        return response

    return wrapper


def admin_api_patterns() -> list:
    """The API's URL patterns (no trailing slashes: the SDK sends none), each answering in the envelope."""
    patterns, _app_name, _namespace = api.urls
    # Not ninja's root page: `/v1/organizations/` itself is an unknown route, answered as a JSON 404.
    patterns = [p for p in patterns if p.name != "api-root"]
    for pattern in patterns:
        pattern.callback = _envelope_everywhere(pattern.callback)
    return patterns


def unknown_route(request: HttpRequest, **kwargs) -> JsonResponse:
    response = error_response(request, ApiError(404, "not_found_error",
                                                f"no route for {request.method} {request.path}"))
    response["request-id"] = _request_id(request)
    return response
