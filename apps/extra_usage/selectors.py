"""Reads for extra usage: an organization's switches, who has it enabled, pending requests, the balance."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, Sum

from apps.common.money import ZERO, money_format
from apps.organizations.models import Membership, Organization, PlanKind
from apps.organizations.permissions import Capability, can
from apps.seats.models import SeatAssignment

from .models import (
    ExtraUsageRequest,
    ExtraUsageSettings,
    LedgerKind,
    MemberExtraUsage,
    PrepaidCharge,
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


@dataclass(frozen=True)
class PendingRequest:
    request: ExtraUsageRequest
    email: str
    name: str
    tier_code: str | None
    tier_label: str


def pending_request_count(*, organization: Organization) -> int:
    return ExtraUsageRequest.objects.filter(
        organization=organization, status=RequestStatus.PENDING, membership__removed_at__isnull=True
    ).count()


def pending_requests(*, organization: Organization) -> list[PendingRequest]:
    """Pending requests of current members, oldest first, each with the requester's current seat (2 queries)."""
    requests = list(
        ExtraUsageRequest.objects.filter(
            organization=organization, status=RequestStatus.PENDING, membership__removed_at__isnull=True
        ).select_related("membership__user").order_by("created_at", "id")
    )
    seats = {
        s.membership_id: s.tier
        for s in SeatAssignment.objects.filter(
            membership_id__in=[r.membership_id for r in requests], ended_at__isnull=True
        ).select_related("tier")
    }
    rows = []
    for r in requests:
        tier = seats.get(r.membership_id)
        user = r.membership.user
        rows.append(PendingRequest(r, user.email, getattr(user, "name", "") or "", tier.code if tier else None,
                                   tier.get_code_display() if tier else "No seat"))
    return rows


def reload_history(*, organization: Organization, limit: int = 50) -> list[PrepaidCharge]:
    """The organization's prepaid purchases and auto-reloads (every attempt, failed ones included), newest first."""
    return list(PrepaidCharge.objects.filter(organization=organization).select_related("created_by")[:limit])


def organizations_due_for_reload() -> list[int]:
    """Team organizations with auto-reload on whose balance is at or below their threshold (the sweep's work)."""
    return list(
        ExtraUsageSettings.objects.filter(
            organization__plan_kind=PlanKind.TEAM, enabled=True, auto_reload_enabled=True,
            reload_threshold__isnull=False, reload_amount__isnull=False,
            prepaid_balance__lte=F("reload_threshold"),
        ).values_list("organization_id", flat=True)
    )


def organizations_with_pending_requests() -> list[int]:
    return list(
        ExtraUsageRequest.objects.filter(status=RequestStatus.PENDING, membership__removed_at__isnull=True)
        .values_list("organization_id", flat=True).distinct().order_by("organization_id")
    )


@dataclass(frozen=True)
class MemberSwitch:
    membership: Membership
    enabled: bool
    tier_label: str


def natural_key(text: str) -> tuple:
    """Sort key that orders numbers by value: "member2" before "member10"."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text.casefold()))


def member_switches(*, organization: Organization) -> list[MemberSwitch]:
    """Current members holding a seat (extra usage is a seat's), with their per-member extra-usage switch and
    seat tier, for the owner's list: by name (else email) in natural order. Two queries."""
    seats = list(SeatAssignment.objects.filter(
        organization=organization, ended_at__isnull=True, membership__removed_at__isnull=True,
    ).select_related("tier", "membership__user"))
    enabled = members_with_extra_usage(membership_ids=[seat.membership_id for seat in seats])
    seats.sort(key=lambda seat: natural_key(seat.membership.user.name or seat.membership.user.email))
    return [MemberSwitch(seat.membership, seat.membership_id in enabled, seat.tier.get_code_display())
            for seat in seats]


def extra_usage_sections(*, membership: Membership) -> dict:
    """What the Settings > Usage sections show to this member (admins: review; owners: everything)."""
    organization = membership.organization
    context = {
        "membership": membership,
        "organization": organization,
        "can_review": can(membership, Capability.REVIEW_REQUESTS),
        "can_manage": can(membership, Capability.MANAGE_EXTRA_USAGE),
        "is_team": organization.plan_kind == PlanKind.TEAM,
        "is_seat_based": organization.is_seat_based,
        "is_enterprise": organization.is_enterprise,
    }
    if context["can_review"] and organization.is_enterprise:
        context["pending_count"] = pending_request_count(organization=organization)
    if context["can_manage"]:
        settings = extra_usage_settings(organization=organization)
        context["settings"] = settings
        context["balance"] = money_format(Decimal(settings.prepaid_balance))
        if organization.is_seat_based and settings.enabled and not settings.all_members:
            context["member_switches"] = member_switches(organization=organization)
        if context["is_team"]:
            context["charges"] = reload_history(organization=organization, limit=20)
    return context
