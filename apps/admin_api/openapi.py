"""A hand-written OpenAPI 3.1 schema of the Spend Limits API, served at `/v1/organizations/openapi.json`.

Hand-written because the API is plain Django views (bracketed list parameters such as `user_ids[]` and the
exact error envelope are stated directly); the schema names the same shapes the presenters emit.
"""

from django.http import JsonResponse
from django.views.decorators.http import require_GET

PREFIX = "/v1/organizations"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _array_param(name: str, items: dict, description: str) -> dict:
    return {"name": f"{name}[]", "in": "query", "required": False, "style": "form", "explode": True,
            "description": description, "schema": {"type": "array", "items": items}}


LIMIT = {"name": "limit", "in": "query", "required": False, "description": "Page size (1-1000).",
         "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 20}}
PAGE = {"name": "page", "in": "query", "required": False, "description": "Opaque cursor from `next_page`.",
        "schema": {"type": "string"}}
USER_ID = {"type": "string", "pattern": "^user_[A-Za-z0-9]+$"}
PERIOD = {"type": "string", "enum": ["daily", "weekly", "monthly"],
          "description": "Only `monthly` is supported; the others get 400 `period: not yet supported`."}
CENTS = {"type": "string", "pattern": "^[0-9]+$", "description": "Integer amount in cents (USD)."}


def _path_param(name: str, prefix: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "pattern": f"^{prefix}_"}}


def _page_of(item: str) -> dict:
    return {"type": "object", "required": ["data", "next_page"],
            "properties": {"data": {"type": "array", "items": _ref(item)}, "next_page": _nullable({"type": "string"})}}


def _ok(schema: dict) -> dict:
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


ERRORS = {
    str(code): {"description": text, "content": {"application/json": {"schema": _ref("ErrorResponse")}}}
    for code, text in ((400, "invalid_request_error"), (401, "authentication_error"), (403, "permission_error"),
                       (404, "not_found_error"), (429, "rate_limit_error (with retry-after)"))
}


def _op(operation_id: str, summary: str, scope: str, response: dict, *, parameters=(), body: dict | None = None):
    op = {"operationId": operation_id, "summary": summary, "description": f"Scope: `{scope}`.",
          "parameters": list(parameters), "responses": {"200": _ok(response), **ERRORS},
          "security": [{"ApiKey": []}, {"Bearer": []}]}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


SCHEMAS = {
    "Scope": {"oneOf": [
        {"type": "object", "required": ["type", "user_id"],
         "properties": {"type": {"const": "user"}, "user_id": USER_ID}},
        {"type": "object", "required": ["type", "seat_tier"],
         "properties": {"type": {"const": "seat_tier"}, "seat_tier": {"type": "string",
                                                                       "examples": ["enterprise_standard"]}}},
        {"type": "object", "required": ["type"], "properties": {"type": {"const": "organization"}}},
    ]},
    "UserActor": {"type": "object", "required": ["type", "user_id", "name", "email_address", "deleted"],
                  "properties": {"type": {"const": "user_actor"}, "user_id": USER_ID,
                                 "name": _nullable({"type": "string"}), "email_address": _nullable({"type": "string"}),
                                 "deleted": {"type": "boolean"}}},
    "ScopedApiKeyActor": {"type": "object", "required": ["type", "scoped_api_key_id"],
                          "properties": {"type": {"const": "scoped_api_key_actor"},
                                         "scoped_api_key_id": {"type": "string", "pattern": "^apikey_"}}},
    "SpendLimit": {"type": "object", "required": ["type", "id", "scope", "amount", "currency", "period",
                                                  "is_enabled", "created_at", "updated_at"],
                   "properties": {"type": {"const": "spend_limit"}, "id": {"type": "string", "pattern": "^spl_"},
                                  "scope": _ref("Scope"), "amount": _nullable(CENTS), "currency": {"type": "string"},
                                  "period": PERIOD, "is_enabled": {"type": "boolean"},
                                  "created_at": {"type": "string", "format": "date-time"},
                                  "updated_at": {"type": "string", "format": "date-time"}}},
    "SpendSummary": {"type": "object", "required": ["scope", "actor", "amount", "currency", "period", "source",
                                                    "spend_limit_id", "period_to_date_spend"],
                     "properties": {"scope": _ref("Scope"), "actor": _ref("UserActor"), "amount": _nullable(CENTS),
                                    "currency": {"type": "string"}, "period": PERIOD, "source": _ref("Scope"),
                                    "spend_limit_id": {"type": "string", "pattern": "^spl_"},
                                    "period_to_date_spend": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,3})?$"}}},
    "SpendLimitIncreaseRequest": {
        "type": "object",
        "required": ["type", "id", "created_at", "status", "period", "resolved_at", "resolved_by", "actor",
                     "spend_summary"],
        "properties": {"type": {"const": "spend_limit_increase_request"},
                       "id": {"type": "string", "pattern": "^slir_"},
                       "created_at": {"type": "string", "format": "date-time"},
                       "status": {"type": "string", "enum": ["pending", "approved", "denied"]}, "period": PERIOD,
                       "resolved_at": _nullable({"type": "string", "format": "date-time"}),
                       "resolved_by": _nullable({"oneOf": [_ref("UserActor"), _ref("ScopedApiKeyActor")]}),
                       "actor": _ref("UserActor"), "spend_summary": _nullable(_ref("SpendSummary"))}},
    "IncreaseRequestApproveResponse": {"allOf": [_ref("SpendLimitIncreaseRequest"), {
        "type": "object", "required": ["spend_limit"], "properties": {"spend_limit": _ref("SpendLimit")}}]},
    "SpendLimitDeleted": {"type": "object", "required": ["type", "id"],
                          "properties": {"type": {"const": "spend_limit_deleted"}, "id": {"type": "string"}}},
    "ErrorResponse": {"type": "object", "required": ["type", "error", "request_id"], "properties": {
        "type": {"const": "error"}, "request_id": {"type": "string"},
        "error": {"type": "object", "required": ["type", "message"], "properties": {
            "type": {"type": "string"}, "message": {"type": "string"},
            "details": {"type": "object", "properties": {"error_code": {"type": "string"}}}}}}},
}

SET_BODY = {"type": "object", "required": ["scope", "amount"], "properties": {
    "scope": _ref("Scope"), "amount": _nullable(CENTS), "period": _nullable(PERIOD)}}
APPROVE_BODY = {"type": "object", "required": ["amount"], "properties": {
    "amount": CENTS, "period": _nullable(PERIOD), "suppress_notification": {"type": "boolean", "default": False}}}
DENY_BODY = {"type": "object", "properties": {"suppress_notification": {"type": "boolean", "default": False}}}

SCHEMA = {
    "openapi": "3.1.0",
    "info": {"title": "billing_portal Spend Limits Admin API", "version": "2026-10-21",
             "description": "Compatible with `client.beta.organization.spend_limits` of the official anthropic "
                            "SDK. 60 requests per minute per organization."},
    "components": {
        "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                            "Bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": SCHEMAS,
    },
    "paths": {
        f"{PREFIX}/spend_limits/effective": {"get": _op(
            "effective_list", "List effective spend limits (one row per member)", "read:spend_limits",
            _page_of("SpendSummary"),
            parameters=[_array_param("user_ids", USER_ID, "At most 100 member ids."),
                        _array_param("period", PERIOD, "At most 3."), LIMIT, PAGE])},
        f"{PREFIX}/spend_limits": {
            "get": _op("spend_limits_list", "List configured spend limits (preview)", "read:spend_limits",
                       _page_of("SpendLimit"),
                       parameters=[_array_param("scope_type", {"type": "string"}, "organization, seat_tier, user…"),
                                   LIMIT, PAGE]),
            "post": _op("spend_limits_set", "Set a member's spend limit (upsert on scope and period)",
                        "write:spend_limits", _ref("SpendLimit"), body=SET_BODY),
        },
        f"{PREFIX}/spend_limits/{{spend_limit_id}}": {
            "get": _op("spend_limits_retrieve", "Get a spend limit", "read:spend_limits", _ref("SpendLimit"),
                       parameters=[_path_param("spend_limit_id", "spl")]),
            "delete": _op("spend_limits_delete", "Remove a member's spend limit", "write:spend_limits",
                          _ref("SpendLimitDeleted"), parameters=[_path_param("spend_limit_id", "spl")]),
        },
        f"{PREFIX}/spend_limit_increase_requests": {"get": _op(
            "increase_requests_list", "List spend-limit increase requests (newest first)", "read:spend_limits",
            _page_of("SpendLimitIncreaseRequest"),
            parameters=[_array_param("status", {"type": "string", "enum": ["pending", "approved", "denied"]}, ""),
                        _array_param("actor_ids", USER_ID, ""), LIMIT, PAGE])},
        f"{PREFIX}/spend_limit_increase_requests/{{spend_limit_increase_request_id}}": {"get": _op(
            "increase_requests_retrieve", "Get an increase request", "read:spend_limits",
            _ref("SpendLimitIncreaseRequest"), parameters=[_path_param("spend_limit_increase_request_id", "slir")])},
        f"{PREFIX}/spend_limit_increase_requests/{{spend_limit_increase_request_id}}/approve": {"post": _op(
            "increase_requests_approve", "Approve: set the member's limit and enable their extra usage",
            "write:spend_limits", _ref("IncreaseRequestApproveResponse"),
            parameters=[_path_param("spend_limit_increase_request_id", "slir")], body=APPROVE_BODY)},
        f"{PREFIX}/spend_limit_increase_requests/{{spend_limit_increase_request_id}}/deny": {"post": _op(
            "increase_requests_deny", "Deny an increase request (a repeat deny is a no-op)", "write:spend_limits",
            _ref("SpendLimitIncreaseRequest"), parameters=[_path_param("spend_limit_increase_request_id", "slir")],
            body=DENY_BODY)},
    },
}


@require_GET
def openapi_schema(request):
    return JsonResponse(SCHEMA)
