"""JSON shapes of the Admin API, exactly as SDK 2.12.0's models expect them (see the contract, §4).

Amounts are integer strings in cents (the portal keeps dollars); `period_to_date_spend` keeps up to three
decimals of cents, rounded half up. Times are RFC 3339 in UTC.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from apps.common.money import decimal_str
from apps.extra_usage.models import ExtraUsageRequest, RequestStatus
from apps.usage.models import CapScope, SpendCap

from .selectors import EffectiveRow

PERIOD = "monthly"
HUNDRED = Decimal(100)
MILLI_CENT = Decimal("0.001")


def rfc3339(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def cents(amount: Decimal | None) -> str | None:
    """Whole dollars-and-cents amount → integer cents string ("75000"); None stays None."""
    if amount is None:
        return None
    return str(int((amount * HUNDRED).to_integral_value(rounding=ROUND_HALF_UP)))


def spend_cents(amount: Decimal) -> str:
    """Spend in cents with up to three decimals ("31402.5", "0")."""
    return decimal_str((amount * HUNDRED).quantize(MILLI_CENT, rounding=ROUND_HALF_UP))


def seat_tier_name(tier) -> str:
    return f"enterprise_{tier.code}"


def scope_json(cap: SpendCap) -> dict:
    if cap.scope == CapScope.MEMBER:
        return {"type": "user", "user_id": cap.membership.user.public_id}
    if cap.scope == CapScope.SEAT_TIER:
        return {"type": "seat_tier", "seat_tier": seat_tier_name(cap.tier)}
    return {"type": "organization"}


def user_actor(user) -> dict:
    if user is None or not user.is_active:
        return {"type": "user_actor", "user_id": getattr(user, "public_id", None), "name": None,
                "email_address": None, "deleted": True}
    return {"type": "user_actor", "user_id": user.public_id, "name": user.name or None,
            "email_address": user.email, "deleted": False}


def spend_limit_json(cap: SpendCap, *, currency: str, extra_usage_off: bool = False) -> dict:
    return {
        "type": "spend_limit",
        "id": cap.public_id,
        "scope": scope_json(cap),
        "amount": cents(cap.amount),
        "currency": currency,
        "period": PERIOD,
        "is_enabled": not (extra_usage_off and cap.scope == CapScope.ORGANIZATION),
        "created_at": rfc3339(cap.created_at),
        "updated_at": rfc3339(cap.updated_at),
    }


def spend_summary_json(row: EffectiveRow, *, currency: str) -> dict:
    user = row.membership.user
    return {
        "scope": {"type": "user", "user_id": user.public_id},
        "actor": user_actor(user),
        "amount": cents(row.status.limit),
        "currency": currency,
        "period": PERIOD,
        "source": scope_json(row.cap),
        "spend_limit_id": row.cap.public_id,
        "period_to_date_spend": spend_cents(row.status.spend),
    }


def resolved_by_json(request: ExtraUsageRequest) -> dict | None:
    if request.resolved_by_api_key_id:
        return {"type": "scoped_api_key_actor", "scoped_api_key_id": request.resolved_by_api_key_id}
    if request.resolved_by is not None:
        return user_actor(request.resolved_by)
    return None


def increase_request_json(request: ExtraUsageRequest, *, summary: dict | None) -> dict:
    return {
        "type": "spend_limit_increase_request",
        "id": request.public_id,
        "created_at": rfc3339(request.created_at),
        # The API knows three statuses: a request closed as no longer needed is "approved" (its member can
        # spend again), with `resolution` saying why. `note` and `requested_amount` are what the member sent;
        # the SDK ignores fields it does not model.
        "status": RequestStatus.APPROVED if request.status == RequestStatus.CLOSED else request.status,
        "period": PERIOD,
        "resolved_at": rfc3339(request.resolved_at),
        "resolved_by": resolved_by_json(request),
        "actor": user_actor(request.membership.user),
        "spend_summary": summary if request.status == RequestStatus.PENDING else None,
        "note": request.note or None,
        "requested_amount": cents(request.requested_amount) if request.requested_amount is not None else None,
        "resolution": "no_longer_needed" if request.status == RequestStatus.CLOSED else None,
    }
