"""The `data` of each event type, built from the row that caused it. Each function returns the keyword
arguments of `webhook_event_emit` other than the organization, so a call site is one line:

    webhook_event_emit(organization=org, **payloads.invoice_issued(invoice), now=now)

Money is a decimal string in the organization's currency; times are ISO 8601 in UTC; members are named by
email; objects by their public id or number, never by a database key. Every payload also names its organization
(`organization_ref`, added by `webhook_event_emit` to whatever the function returns), so one receiver can serve
several organizations. The published schema of each event's `data` is `schema.py` (kept in step by a test).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from .models import EventType


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def organization_ref(organization) -> dict:
    """`organization` of every payload: its id (a number, stable for the organization's life) and its slug."""
    return {"id": organization.pk, "slug": organization.slug}


def spend_notice(notice) -> dict:
    """spend.cap_reached when a member's or the organization's spend limit is reached (100%), else
    spend.threshold_reached (a notice threshold, or the member's included usage)."""
    scope = str(notice.scope)
    cap = scope in ("member_limit", "org_cap") and notice.threshold >= 100
    membership = notice.membership
    return {
        "event_type": EventType.SPEND_CAP_REACHED if cap else EventType.SPEND_THRESHOLD_REACHED,
        "payload": {
            "scope": scope, "member": membership.user.email if membership is not None else None,
            "threshold_percent": notice.threshold, "limit": _money(notice.limit_amount),
            "spend": _money(notice.spend), "currency": notice.organization.currency,
            "period_start": notice.period_start.isoformat(),
        },
    }


def _request_data(request) -> dict:
    return {
        "request_id": request.public_id, "member": request.membership.user.email, "status": str(request.status),
        "created_at": _time(request.created_at), "resolved_at": _time(request.resolved_at),
        "approved_amount": _money(getattr(request, "approved_amount", None)),
    }


def extra_usage_request_created(request) -> dict:
    return {"event_type": EventType.EXTRA_USAGE_REQUEST_CREATED, "payload": _request_data(request)}


def extra_usage_request_decided(request) -> dict:
    return {"event_type": EventType.EXTRA_USAGE_REQUEST_DECIDED, "payload": _request_data(request)}


def prepaid_reload(charge) -> dict:
    """prepaid.reloaded for a settled auto-reload, prepaid.reload_failed for a declined one."""
    ok = str(charge.status) == "succeeded"
    return {
        "event_type": EventType.PREPAID_RELOADED if ok else EventType.PREPAID_RELOAD_FAILED,
        "payload": {
            "amount": _money(charge.amount), "currency": charge.organization.currency,
            "idempotency_key": charge.idempotency_key, "payment_reference": charge.payment_reference or None,
            "error": charge.error or None, "settled_at": _time(charge.settled_at),
        },
    }


def _invoice_data(invoice) -> dict:
    return {
        "number": invoice.number, "status": str(invoice.status), "total": _money(invoice.total),
        "currency": invoice.currency, "period_start": invoice.period_start.isoformat(),
        "period_end": invoice.period_end.isoformat(), "issued_at": _time(invoice.issued_at),
    }


def invoice_issued(invoice) -> dict:
    return {"event_type": EventType.INVOICE_ISSUED, "payload": _invoice_data(invoice)}


def invoice_paid(invoice, *, source: str, paid_at: dt.datetime) -> dict:
    return {"event_type": EventType.INVOICE_PAID,
            "payload": {**_invoice_data(invoice), "paid_at": _time(paid_at), "source": source}}
