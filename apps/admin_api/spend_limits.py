"""The Spend Limits endpoints of the Admin API (`client.beta.organization.spend_limits` of the official
`anthropic` SDK), per the reference "Admin API reference: spend limits and spend-limit increase requests"; where
it and the portal's rules differ, the portal's rules win:

- Monthly periods only (others: 400 `period: not yet supported`); amounts are integer cents on the wire.
- Writes go through the owner pages' services (`cap_set`, `cap_delete`, `extra_usage_request_approve/deny`):
  same validation, audit rows (actor `apikey:<id>`) and emails.
- The "overage billing is not enabled" precondition is not applied: a seat-based organization with extra usage
  switched off is served, its organization row reporting `is_enabled: false`.
- Amounts and ids are never accepted as floats or bare integers: `amount` must be a decimal string.

Each handler takes the request and the authenticated `Call` and returns the JSON body; `api.py` routes them
(django-ninja), checks keys, scopes and the rate limit, and answers errors (`ApiError`) in the envelope. The
bracketed list parameters (`user_ids[]`) and bodies are read here so each error names the contract's message.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import HttpRequest

from apps.common.ids import is_tagged_id
from apps.common.json_body import JsonBodyRefused, json_loads_limited
from apps.extra_usage.models import RequestStatus
from apps.extra_usage.services import usage_requests as extra_usage_services
from apps.spending import requests as spend_requests
from apps.usage.models import CapScope
from apps.usage.services import cap_delete, cap_set

from . import presenters
from .cursors import CursorError, cursor_decode, cursor_encode, filter_hash
from .errors import ApiError, Call, bad_request, not_found
from .models import AdminScope
from .selectors import (
    effective_members_page,
    effective_rows,
    extra_usage_switched_off,
    increase_request_in_org,
    increase_requests_page,
    spend_limit_in_org,
    spend_limits_page,
)
from .services import actor_label_for, organization_cap_ensure

READ, WRITE = AdminScope.READ_SPEND_LIMITS.value, AdminScope.WRITE_SPEND_LIMITS.value
PERIODS = ("daily", "weekly", "monthly")
SUPPORTED_PERIOD = "monthly"
STATUSES = ("pending", "approved", "denied")  # a request closed as no longer needed reads "approved"
SCOPE_TYPES = {"organization": CapScope.ORGANIZATION, "seat_tier": CapScope.SEAT_TIER, "user": CapScope.MEMBER,
               "rbac_group": None, "organization_service": None}
CONSOLE_SCOPE_TYPES = ("workspace", "usage_tier")
DEFAULT_LIMIT, MAX_LIMIT, MAX_IDS = 20, 1000, 100
# Admin API bodies are one small object (amount, period, reason): 64 KB is generous.
BODY_MAX_BYTES = 64 * 1024
AMOUNT_MESSAGE = "amount: must be a non-negative integer decimal string"

EFFECTIVE_CURSOR_MESSAGES = {
    "invalid": "page: invalid cursor",
    "mismatch": "page: cursor does not match current query parameters",
    "version": "page: cursor was issued by a different API version",
}
REQUESTS_CURSOR_MESSAGES = {
    "invalid": "invalid page cursor",
    "mismatch": "page cursor does not match current query parameters",
    "version": "page cursor was issued by a different API version; restart pagination",
}


# --- Parameter parsing ---------------------------------------------------------------------------------------


def _limit(request: HttpRequest) -> int:
    raw = request.GET.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_LIMIT:
        raise bad_request(f"limit: must be an integer between 1 and {MAX_LIMIT}")
    return value


def _list(request: HttpRequest, name: str, *, max_items: int) -> list[str] | None:
    values = request.GET.getlist(f"{name}[]")
    if not values:
        return None
    if len(values) > max_items:
        raise bad_request(f"{name}[]: at most {max_items} values are allowed")
    return values


def _periods(request: HttpRequest) -> list[str] | None:
    periods = _list(request, "period", max_items=len(PERIODS))
    if periods is None:
        return None
    for period in periods:
        if period not in PERIODS:
            raise bad_request(f"period[]: must be one of {', '.join(PERIODS)}")
        if period != SUPPORTED_PERIOD:
            raise bad_request("period: not yet supported")
    return sorted(set(periods))


def _cursor_key(request: HttpRequest, digest: str, messages: dict, shape: tuple) -> list | None:
    token = request.GET.get("page") or None
    if token is None:
        return None
    try:
        key = cursor_decode(token, filters_digest=digest)
    except CursorError as error:
        raise bad_request(messages[error.kind]) from None
    if len(key) != len(shape) or not all(isinstance(v, t) for v, t in zip(key, shape, strict=True)):
        raise bad_request(messages["invalid"])
    return key


def _datetime_key(key: list, messages: dict) -> tuple[dt.datetime, str]:
    try:
        moment = dt.datetime.fromisoformat(key[0])
    except ValueError:
        raise bad_request(messages["invalid"]) from None
    if moment.tzinfo is None:
        raise bad_request(messages["invalid"])
    return moment, key[1]


def _body(request: HttpRequest) -> dict:
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(413, "request_too_large", "body: too large") from None
    if not raw:
        return {}
    try:
        data = json_loads_limited(raw, max_bytes=BODY_MAX_BYTES)
    except JsonBodyRefused as refused:
        raise ApiError(refused.status, "request_too_large" if refused.status == 413 else "invalid_request_error",
                       refused.message) from None
    except (ValueError, UnicodeDecodeError):
        raise bad_request("body: invalid JSON") from None
    if not isinstance(data, dict):
        raise bad_request("body: must be a JSON object")
    return data


def _amount_dollars(data: dict) -> Decimal | None:
    """`amount` in integer cents (a string) → Decimal dollars; JSON null → None."""
    if "amount" not in data:
        raise bad_request("amount: required")
    raw = data["amount"]
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 15:
        raise bad_request(AMOUNT_MESSAGE)
    return Decimal(int(raw)) / 100


def _body_period(data: dict) -> None:
    period = data.get("period")
    if period is not None and period != SUPPORTED_PERIOD:
        raise bad_request("period: not yet supported")


def _suppress(data: dict) -> bool:
    value = data.get("suppress_notification")
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request("suppress_notification: must be a boolean")
    return value


def _validation_message(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        field, errors = next(iter(error.error_dict.items()))
        return f"{field}: {errors[0].messages[0]}"
    return error.messages[0]


def _validation_codes(error: ValidationError) -> set[str]:
    if hasattr(error, "error_dict"):
        return {e.code for errors in error.error_dict.values() for e in errors}
    return {e.code for e in error.error_list}


# --- Spend limits --------------------------------------------------------------------------------------------


def effective_list(request: HttpRequest, call: Call) -> dict:
    """One row per current member (monthly), newest member first; `limit` counts members."""
    user_ids = _list(request, "user_ids", max_items=MAX_IDS)
    if user_ids is not None and not all(is_tagged_id(u, "user") for u in user_ids):
        raise bad_request("user_ids[]: entry is not a valid user ID")
    periods = _periods(request)
    limit = _limit(request)
    filters = {"user_ids": sorted(set(user_ids)) if user_ids else None, "period": periods}
    digest = filter_hash(organization_id=call.organization.pk, endpoint="effective", filters=filters)
    key = _cursor_key(request, digest, EFFECTIVE_CURSOR_MESSAGES, (str, str))
    after = _datetime_key(key, EFFECTIVE_CURSOR_MESSAGES) if key else None
    org_cap = organization_cap_ensure(organization=call.organization, now=call.now)
    members, more = effective_members_page(organization=call.organization, user_ids=filters["user_ids"],
                                           after=after, limit=limit)
    rows = effective_rows(organization=call.organization, memberships=members, org_cap=org_cap, now=call.now)
    currency = call.organization.currency
    next_page = None
    if more:
        last = members[-1]
        next_page = cursor_encode(key=[last.joined_at.isoformat(), last.user.public_id], filters_digest=digest)
    return {"data": [presenters.spend_summary_json(row, currency=currency) for row in rows], "next_page": next_page}


def spend_limits_list(request: HttpRequest, call: Call) -> dict:
    """The configured rows (preview method): organization, then seat tiers, then members."""
    if request.GET.get("workspace_id"):
        raise bad_request("workspace_id: not supported for Enterprise organizations")
    types = _list(request, "scope_type", max_items=MAX_IDS)
    scopes = None
    if types is not None:
        for value in types:
            if value in CONSOLE_SCOPE_TYPES:
                raise bad_request(f"scope_type[]: {value} does not apply to Enterprise organizations")
            if value not in SCOPE_TYPES:
                raise bad_request(f"scope_type[]: must be one of {', '.join(SCOPE_TYPES)}")
        types = sorted(set(types))
        scopes = [SCOPE_TYPES[t] for t in types if SCOPE_TYPES[t] is not None]
    limit = _limit(request)
    digest = filter_hash(organization_id=call.organization.pk, endpoint="spend_limits", filters={"scope_type": types})
    key = _cursor_key(request, digest, EFFECTIVE_CURSOR_MESSAGES, (int, int, str))
    organization_cap_ensure(organization=call.organization, now=call.now)
    rows, more = spend_limits_page(organization=call.organization, scopes=scopes,
                                   after=tuple(key) if key else None, limit=limit)
    off = extra_usage_switched_off(organization=call.organization)
    next_page = None
    if more:
        last = rows[-1]
        next_page = cursor_encode(key=[last.rank, last.tier_position, last.public_id], filters_digest=digest)
    currency = call.organization.currency
    return {"data": [presenters.spend_limit_json(cap, currency=currency, extra_usage_off=off) for cap in rows],
            "next_page": next_page}


def _spend_limit(call: Call, spend_limit_id: str):
    cap = spend_limit_in_org(organization=call.organization, public_id=spend_limit_id)
    if cap is None:
        raise not_found("spend limit not found")
    return cap


def _spend_limit_json(call: Call, cap) -> dict:
    off = cap.scope == CapScope.ORGANIZATION and extra_usage_switched_off(organization=call.organization)
    return presenters.spend_limit_json(cap, currency=call.organization.currency, extra_usage_off=off)


def spend_limit_retrieve(request: HttpRequest, call: Call, spend_limit_id: str) -> dict:
    return _spend_limit_json(call, _spend_limit(call, spend_limit_id))


def spend_limit_set(request: HttpRequest, call: Call) -> dict:
    """Upsert the member's own monthly limit. `amount: null` removes the member's own limit (the row is kept,
    unlimited, so its id is stable); tier and organization caps still apply."""
    data = _body(request)
    scope = data.get("scope")
    if scope is None:
        raise bad_request("scope: required")
    if not isinstance(scope, dict):
        raise bad_request("scope: must be an object")
    if scope.get("type") != "user":
        raise bad_request("scope.type: not yet supported")
    user_id = scope.get("user_id")
    if not is_tagged_id(user_id, "user"):
        raise bad_request("scope.user_id: malformed")
    membership = call.organization.memberships.select_related("user").filter(user__public_id=user_id).first()
    if membership is None:
        raise bad_request("scope.user_id: not a member of this organization")
    amount = _amount_dollars(data)
    _body_period(data)
    try:
        cap = cap_set(organization=call.organization, scope=CapScope.MEMBER, membership=membership, amount=amount,
                      actor=None, actor_label=actor_label_for(call.key), now=call.now)
    except ValidationError as error:
        raise bad_request(_validation_message(error)) from None
    cap.membership = membership
    return _spend_limit_json(call, cap)


def spend_limit_delete(request: HttpRequest, call: Call, spend_limit_id: str) -> dict:
    """Remove a member's own limit; they fall back to their tier and organization caps."""
    cap = _spend_limit(call, spend_limit_id)
    if cap.scope != CapScope.MEMBER:
        raise bad_request("Only per-user spend limits can be deleted via this endpoint.")
    cap_delete(cap=cap, actor=None, actor_label=actor_label_for(call.key), now=call.now)
    return {"type": "spend_limit_deleted", "id": spend_limit_id}


# --- Increase requests ---------------------------------------------------------------------------------------


def _summaries(call: Call, requests) -> dict[int, dict]:
    """Live spend summaries for the members behind pending requests, by membership id (four queries)."""
    pending = {r.membership_id: r.membership for r in requests if r.status == RequestStatus.PENDING}
    if not pending:
        return {}
    org_cap = organization_cap_ensure(organization=call.organization, now=call.now)
    rows = effective_rows(organization=call.organization, memberships=list(pending.values()), org_cap=org_cap,
                          now=call.now)
    currency = call.organization.currency
    return {row.membership.pk: presenters.spend_summary_json(row, currency=currency) for row in rows}


def _request_json(call: Call, request_obj) -> dict:
    summary = _summaries(call, [request_obj]).get(request_obj.membership_id)
    return presenters.increase_request_json(request_obj, summary=summary)


def increase_requests_list(request: HttpRequest, call: Call) -> dict:
    statuses = _list(request, "status", max_items=MAX_IDS)
    if statuses is not None and not all(s in STATUSES for s in statuses):
        raise bad_request(f"status[]: must be one of {', '.join(STATUSES)}")
    actor_ids = _list(request, "actor_ids", max_items=MAX_IDS)
    if actor_ids is not None and not all(is_tagged_id(a, "user") for a in actor_ids):
        raise bad_request("actor_ids[]: invalid tagged user ID")
    limit = _limit(request)
    filters = {"status": sorted(set(statuses)) if statuses else None,
               "actor_ids": sorted(set(actor_ids)) if actor_ids else None}
    digest = filter_hash(organization_id=call.organization.pk, endpoint="increase_requests", filters=filters)
    key = _cursor_key(request, digest, REQUESTS_CURSOR_MESSAGES, (str, str))
    after = _datetime_key(key, REQUESTS_CURSOR_MESSAGES) if key else None
    requests, more = increase_requests_page(organization=call.organization, statuses=filters["status"],
                                            actor_ids=filters["actor_ids"], after=after, limit=limit)
    summaries = _summaries(call, requests)
    next_page = None
    if more:
        last = requests[-1]
        next_page = cursor_encode(key=[last.created_at.isoformat(), last.public_id], filters_digest=digest)
    data = [presenters.increase_request_json(r, summary=summaries.get(r.membership_id)) for r in requests]
    return {"data": data, "next_page": next_page}


def _increase_request(call: Call, request_id: str):
    found = increase_request_in_org(organization=call.organization, public_id=request_id)
    if found is None:
        raise not_found("spend limit increase request not found")
    return found


def increase_request_retrieve(request: HttpRequest, call: Call, request_id: str) -> dict:
    return _request_json(call, _increase_request(call, request_id))


ALREADY_RESOLVED = "spend limit increase request is already resolved"
ALREADY_APPROVED = "spend limit increase request is already approved"


def increase_request_approve(request: HttpRequest, call: Call, request_id: str) -> dict:
    """Set the member's own limit to `amount` and enable their extra usage, as "Increase limit" does in the
    review modal (same service, same audit row). Approving a decided request is a 400, never a 409."""
    found = _increase_request(call, request_id)
    data = _body(request)
    amount = _amount_dollars(data)
    if amount is None:
        raise bad_request(AMOUNT_MESSAGE)
    _body_period(data)
    suppress = _suppress(data)
    if found.status != RequestStatus.PENDING:
        raise bad_request(ALREADY_RESOLVED)
    try:
        approval = spend_requests.extra_usage_request_approve(
            request=found, amount=amount, actor=None, api_key_public_id=call.key.public_id,
            suppress_notification=suppress, now=call.now,
        )
        approved, cap = approval.request, approval.cap
    except ValidationError as error:
        if "already_resolved" in _validation_codes(error):
            raise bad_request(ALREADY_RESOLVED) from None
        raise bad_request(_validation_message(error)) from None
    approved = increase_request_in_org(organization=call.organization, public_id=request_id) or approved
    body = presenters.increase_request_json(approved, summary=None)
    if cap is not None:
        cap = spend_limit_in_org(organization=call.organization, public_id=cap.public_id) or cap
        body["spend_limit"] = _spend_limit_json(call, cap)
    else:
        body["spend_limit"] = None
    return body


def increase_request_deny(request: HttpRequest, call: Call, request_id: str) -> dict:
    """Deny a pending request. A repeat deny returns the request unchanged (no second email); denying an
    approved request is a 400."""
    found = _increase_request(call, request_id)
    data = _body(request)
    suppress = _suppress(data)
    if found.status in (RequestStatus.APPROVED, RequestStatus.CLOSED):
        raise bad_request(ALREADY_APPROVED)
    if found.status == RequestStatus.DENIED:
        return presenters.increase_request_json(found, summary=None)
    try:
        extra_usage_services.extra_usage_request_deny(
            request=found, actor=None, api_key_public_id=call.key.public_id, suppress_notification=suppress,
            now=call.now,
        )
    except ValidationError as error:
        if "already_approved" in _validation_codes(error):
            raise bad_request(ALREADY_APPROVED) from None
        raise bad_request(_validation_message(error)) from None
    denied = increase_request_in_org(organization=call.organization, public_id=request_id)
    return presenters.increase_request_json(denied, summary=None)
