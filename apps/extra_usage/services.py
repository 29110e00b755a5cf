"""Writes for extra usage."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import F

from apps.usage.models import UsageEvent

from .models import ExtraUsageSettings, LedgerKind, PrepaidLedgerEntry


def prepaid_draw(*, event: UsageEvent, amount: Decimal, now: dt.datetime) -> None:
    """Draw an event's extra usage from the Team organization's prepaid balance: one ledger row (unique per
    event) and the balance counter, in the event's transaction. The balance may go below zero by the requests
    already admitted; admission refuses the next one."""
    PrepaidLedgerEntry.objects.create(
        organization_id=event.organization_id,
        kind=LedgerKind.USAGE,
        amount=-amount,
        event=event,
        period_start=event.period_start,
        created_at=now,
    )
    ExtraUsageSettings.objects.filter(organization_id=event.organization_id).update(
        prepaid_balance=F("prepaid_balance") - amount
    )
