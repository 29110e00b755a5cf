"""Reads for extra usage: an organization's switches, who has it enabled, pending requests, the balance."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Sum

from apps.common.money import ZERO
from apps.organizations.models import Organization

from .models import (
    ExtraUsageRequest,
    ExtraUsageSettings,
    LedgerKind,
    MemberExtraUsage,
    PrepaidLedgerEntry,
    RequestStatus,
)

# A denied member may not ask again for this long (the request button is hidden meanwhile).
REQUEST_COOLDOWN = dt.timedelta(days=30)


def extra_usage_settings(*, organization: Organization) -> ExtraUsageSettings:
    """The organization's settings, or unsaved defaults (extra usage off) when never configured."""
    found = ExtraUsageSettings.objects.filter(organization=organization).first()
    return found or ExtraUsageSettings(organization=organization)


def members_with_extra_usage(*, membership_ids: Iterable[int]) -> set[int]:
    return set(
        MemberExtraUsage.objects.filter(membership_id__in=list(membership_ids), enabled=True).values_list(
            "membership_id", flat=True
        )
    )


def members_who_cannot_request(*, membership_ids: Iterable[int], now: dt.datetime) -> set[int]:
    """Members with a pending request, or one denied within the cooldown: no new request for them now."""
    ids = list(membership_ids)
    pending = ExtraUsageRequest.objects.filter(membership_id__in=ids, status=RequestStatus.PENDING)
    denied = ExtraUsageRequest.objects.filter(
        membership_id__in=ids, status=RequestStatus.DENIED, resolved_at__gt=now - REQUEST_COOLDOWN
    )
    return set(pending.values_list("membership_id", flat=True)) | set(
        denied.values_list("membership_id", flat=True)
    )


def auto_reloads_in_period(*, organization: Organization, period_start: dt.date) -> Decimal:
    total = PrepaidLedgerEntry.objects.filter(
        organization=organization, period_start=period_start, kind=LedgerKind.AUTO_RELOAD
    ).aggregate(total=Sum("amount"))["total"]
    return total or ZERO


def reload_possible(*, settings: ExtraUsageSettings, period_start: dt.date) -> bool:
    """Whether an auto-reload could still top the balance up this period (configured, and the monthly reload
    limit leaves room for one more reload)."""
    if not (settings.auto_reload_enabled and settings.reload_amount and settings.reload_amount > 0):
        return False
    if settings.monthly_reload_limit is None:
        return True
    done = auto_reloads_in_period(organization=settings.organization, period_start=period_start)
    return done + settings.reload_amount <= settings.monthly_reload_limit


def prepaid_ledger_sum(*, organization: Organization) -> Decimal:
    return PrepaidLedgerEntry.objects.filter(organization=organization).aggregate(total=Sum("amount"))[
        "total"
    ] or ZERO
