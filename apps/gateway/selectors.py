"""The admission decision: may this member spend on this request now?

It sees everything that can stop a member: their seat and its products, the seat's included usage, the
organization's extra-usage switches and prepaid balance, and the spend caps at every level.

- Usage-based Enterprise: all usage is pooled spend under the caps.
- Seat-based plans (Team, seat-based Enterprise): usage is funded by the seat's included usage first; after it
  a member continues only if extra usage is on for the organization (`included_usage_exhausted` otherwise)
  and for them (`extra_usage_disabled`), within the caps (`member_cap`, `tier_cap`, `org_cap`, which bound
  extra usage), and on Team while the prepaid balance is above zero or an auto-reload can still top it up
  (`prepaid_balance_exhausted`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from django.db import connection

from apps.common.ids import API_KEY_MAX_LENGTH, api_key_digest
from apps.common.money import ZERO
from apps.common.periods import Period, period_containing
from apps.common.sql import JoinedRow, prepared_fetchone
from apps.extra_usage.models import ExtraUsageSettings
from apps.extra_usage.selectors import (
    extra_usage_settings,
    members_who_cannot_request,
    members_with_extra_usage,
    reload_possible,
)
from apps.monitoring.models import DEFAULT_THRESHOLDS
from apps.organizations.models import ApiKey, Membership, Organization, PlanKind
from apps.organizations.services import api_key_authenticate, api_key_mark_used_if_stale
from apps.seats.models import SeatAssignment, SeatTier
from apps.usage.selectors import (
    Counters,
    OrgCaps,
    SpendStatus,
    members_counters,
    org_caps,
    org_counters,
    spend_status_compute,
)


class Reason:
    ORG_CAP = "org_cap"
    TIER_CAP = "tier_cap"
    MEMBER_CAP = "member_cap"
    INCLUDED_USAGE_EXHAUSTED = "included_usage_exhausted"
    PREPAID_BALANCE_EXHAUSTED = "prepaid_balance_exhausted"
    EXTRA_USAGE_DISABLED = "extra_usage_disabled"
    NO_SEAT = "no_seat"
    PRODUCT_NOT_IN_SEAT = "product_not_in_seat"


# Refusals a member can ask an admin to lift with "Request extra usage".
REQUESTABLE = {Reason.INCLUDED_USAGE_EXHAUSTED, Reason.EXTRA_USAGE_DISABLED, Reason.MEMBER_CAP, Reason.TIER_CAP}


@dataclass(frozen=True)
class Admission:
    allowed: bool
    reason: str | None
    funding: str | None
    period_ends_at: dt.datetime
    can_request_extra_usage: bool
    status: SpendStatus | None = None


@dataclass
class OrgContext:
    """Everything admission needs about an organization and some of its members, loaded in a few queries."""

    organization: Organization
    period: Period
    caps: OrgCaps
    org: Counters
    settings: ExtraUsageSettings
    extra_enabled_members: set[int] = field(default_factory=set)
    cannot_request: set[int] = field(default_factory=set)
    reload_possible: bool = False
    # The organization's notice thresholds (percentages), when already loaded.
    notice_thresholds: list[int] | None = None


def member_seats(*, organization: Organization, emails: list[str]) -> dict[str, tuple[Membership, SeatTier | None]]:
    """Memberships by lower-cased email with their current tier, in one query."""
    memberships = (
        Membership.objects.active().filter(organization=organization, user__email__in=emails).select_related("user")
    )
    found = {m.pk: m for m in memberships}
    tiers: dict[int, SeatTier] = {}
    for seat in SeatAssignment.objects.filter(membership_id__in=found, ended_at__isnull=True).select_related(
        "tier"
    ):
        tiers[seat.membership_id] = seat.tier
    return {m.user.email: (m, tiers.get(m.pk)) for m in found.values()}


def org_context_load(*, organization: Organization, membership_ids: list[int], now: dt.datetime,
                     period: Period | None = None) -> OrgContext:
    period = period or period_containing(now, organization.billing_timezone)
    caps = org_caps(organization=organization, membership_ids=membership_ids)
    org = (
        org_counters(organization_id=organization.pk, period_start=period.start)
        if caps.organization is not None and caps.organization.amount is not None
        else Counters()
    )
    context = OrgContext(
        organization=organization,
        period=period,
        caps=caps,
        org=org,
        settings=ExtraUsageSettings(organization=organization),
    )
    if organization.plan_kind != PlanKind.ENTERPRISE_USAGE:
        context.settings = extra_usage_settings(organization=organization)
        if context.settings.enabled and not context.settings.all_members:
            context.extra_enabled_members = members_with_extra_usage(membership_ids=membership_ids)
        if organization.plan_kind == PlanKind.TEAM and context.settings.prepaid_balance <= 0:
            context.reload_possible = reload_possible(settings=context.settings, period_start=period.start)
    return context


def _can_request(context: OrgContext, membership_id: int, reason: str | None, now: dt.datetime) -> bool:
    if reason not in REQUESTABLE or not context.organization.is_enterprise:
        return False
    if context.organization.plan_kind == PlanKind.ENTERPRISE_SEAT:
        if not context.settings.requests_enabled:
            return False
    else:
        # Usage-based Enterprise keeps its request switch on an unsaved default unless configured.
        settings = extra_usage_settings(organization=context.organization)
        if not settings.requests_enabled:
            return False
    if membership_id not in context.cannot_request:
        context.cannot_request |= members_who_cannot_request(membership_ids=[membership_id], now=now)
    return membership_id not in context.cannot_request


def admission_decide(*, context: OrgContext, membership: Membership, tier: SeatTier | None, product: str | None,
                     member: Counters, now: dt.datetime, with_request_hint: bool = True) -> Admission:
    """The decision for one member, from a loaded context and the member's counters (see module docstring).
    `with_request_hint=False` skips working out can_request_extra_usage (recording only needs `allowed`)."""
    ends_at = context.period.ends_at

    def refuse(reason: str, status: SpendStatus | None = None) -> Admission:
        hint = with_request_hint and _can_request(context, membership.pk, reason, now)
        return Admission(False, reason, None, ends_at, hint, status)

    if tier is None:
        return refuse(Reason.NO_SEAT)
    if product is not None and not tier.grants(product):
        return refuse(Reason.PRODUCT_NOT_IN_SEAT)

    status = spend_status_compute(
        membership_id=membership.pk, tier_id=tier.pk, caps=context.caps, member=member, org=context.org
    )
    organization = context.organization
    if organization.plan_kind == PlanKind.ENTERPRISE_USAGE:
        if status.blocked:
            return refuse(status.reason, status)
        return Admission(True, None, "pooled", ends_at, False, status)

    if member.included_spend < tier.included_usage.amount:
        return Admission(True, None, "included", ends_at, False, status)
    settings = context.settings
    if not settings.enabled:
        return refuse(Reason.INCLUDED_USAGE_EXHAUSTED, status)
    if not settings.all_members and membership.pk not in context.extra_enabled_members:
        return refuse(Reason.EXTRA_USAGE_DISABLED, status)
    if status.blocked:
        return refuse(status.reason, status)
    if organization.plan_kind == PlanKind.TEAM and settings.prepaid_balance <= ZERO and not context.reload_possible:
        return refuse(Reason.PREPAID_BALANCE_EXHAUSTED, status)
    return Admission(True, None, "extra_usage", ends_at, False, status)


def admission_check(*, organization: Organization, membership: Membership, tier: SeatTier | None,
                    product: str | None, now: dt.datetime) -> Admission:
    """Admission for one member now: loads the context and decides."""
    context = org_context_load(organization=organization, membership_ids=[membership.pk], now=now)
    counters = members_counters(membership_ids=[membership.pk], period_start=context.period.start)
    return admission_decide(
        context=context, membership=membership, tier=tier, product=product,
        member=counters.get(membership.pk, Counters()), now=now,
    )


# --- The hot path: key, member and everything admission reads, in one statement ------------------------------
# The same reads as api_key_authenticate + member_seats + org_context_load (+ the member's counters), loaded by
# a single prepared SQL statement: the active API key by digest and its organization (or the organization by
# id), the billing period containing `at` (the organization's local month, computed by PostgreSQL from its
# billing time zone), the active membership by email, its open seat and tier, the member's counters, the
# member / tier / organization caps, the organization's counter slots (summed only when an organization cap is
# set), the extra-usage settings, the member's extra-usage switch and the notice thresholds. Measured by
# `make bench` (docs/scaling.md): one round trip and no ORM query building, instead of six to eight queries.

_MEMBER_CONTEXT_JOINS = """
CROSS JOIN LATERAL (
    SELECT date_trunc('month', %(at)s::timestamptz AT TIME ZONE o.billing_timezone)::date AS period
) p
LEFT JOIN organizations_membership m ON m.organization_id = o.id AND m.removed_at IS NULL
    AND m.user_id = (SELECT u.id FROM accounts_user u WHERE u.email = %(email)s)
LEFT JOIN seats_seatassignment sa ON sa.membership_id = m.id AND sa.ended_at IS NULL
LEFT JOIN seats_seattier t ON t.id = sa.tier_id
LEFT JOIN usage_memberperiodusage mpu ON mpu.membership_id = m.id AND mpu.period_start = p.period
LEFT JOIN usage_spendcap mc ON mc.membership_id = m.id AND mc.scope = 'member'
LEFT JOIN usage_spendcap tc ON tc.tier_id = sa.tier_id AND tc.scope = 'seat_tier'
LEFT JOIN usage_spendcap oc ON oc.organization_id = o.id AND oc.scope = 'organization'
LEFT JOIN LATERAL (
    SELECT sum(s.spend) AS spend, sum(s.included_spend) AS included FROM usage_orgusageslot s
    WHERE s.organization_id = o.id AND s.period_start = p.period AND oc.amount IS NOT NULL
) os ON true
LEFT JOIN extra_usage_extrausagesettings eus ON eus.organization_id = o.id
LEFT JOIN extra_usage_memberextrausage meu ON meu.membership_id = m.id
LEFT JOIN monitoring_notificationsettings ns ON ns.organization_id = o.id
"""
_statements: dict = {}


def _member_context_sql(by: str) -> tuple[str, JoinedRow]:
    """The statement and its row layout: `by="key"` finds the organization from an API key digest,
    `by="organization"` from its id."""
    if by not in _statements:
        from apps.usage.models import SpendCap

        models = [("o", Organization), ("m", Membership), ("t", SeatTier), ("mc", SpendCap), ("tc", SpendCap),
                  ("oc", SpendCap), ("eus", ExtraUsageSettings)]
        if by == "key":
            models.insert(0, ("k", ApiKey))
            head = "FROM organizations_apikey k JOIN organizations_organization o ON o.id = k.organization_id"
            where = "WHERE k.digest = %(digest)s AND k.revoked_at IS NULL"
        else:
            head, where = "FROM organizations_organization o", "WHERE o.id = %(organization)s"
        layout = JoinedRow(
            models, extra=["p.period", "mpu.spend", "mpu.included_spend", "meu.enabled", "os.spend", "os.included",
                   "ns.thresholds"]
        )
        _statements[by] = (f"SELECT {layout.select_list} {head} {_MEMBER_CONTEXT_JOINS} {where}", layout)
    return _statements[by]


@dataclass
class MemberContext:
    """One member's seat, counters and organization context for the billing period containing a moment."""

    membership: Membership
    tier: SeatTier | None
    member: Counters
    context: OrgContext


def _member_context(row: tuple, layout: JoinedRow, organization: Organization,
                    at: dt.datetime) -> MemberContext | None:
    """The member's context from a fetched row; None when the organization has no such active member."""
    membership = layout.load(row, "m")
    if membership is None:
        return None
    membership.organization = organization
    period_start, spend, included_spend, member_extra, org_spend, org_included, thresholds = layout.trailing(row)
    period = period_containing(at, organization.billing_timezone)
    tier = layout.load(row, "t")
    if period.start != period_start:  # PostgreSQL's and Python's time zone data disagree: trust Python's
        context = org_context_load(organization=organization, membership_ids=[membership.pk], now=at, period=period)
        counters = members_counters(membership_ids=[membership.pk], period_start=period.start)
        return MemberContext(membership, tier, counters.get(membership.pk, Counters()), context)
    member_cap, tier_cap, org_cap = layout.load(row, "mc"), layout.load(row, "tc"), layout.load(row, "oc")
    caps = OrgCaps(
        org_cap,
        {tier_cap.tier_id: tier_cap} if tier_cap is not None else {},
        {member_cap.membership_id: member_cap} if member_cap is not None else {},
    )
    org = (Counters(org_spend or ZERO, org_included or ZERO)
           if org_cap is not None and org_cap.amount is not None else Counters())
    settings = None
    if organization.plan_kind != PlanKind.ENTERPRISE_USAGE:
        settings = layout.load(row, "eus")
        if settings is not None:
            settings.organization = organization
    context = OrgContext(organization=organization, period=period, caps=caps, org=org,
                         settings=settings or ExtraUsageSettings(organization=organization),
                         notice_thresholds=_thresholds(thresholds))
    if settings is not None:
        if settings.enabled and not settings.all_members and member_extra:
            context.extra_enabled_members = {membership.pk}
        if organization.plan_kind == PlanKind.TEAM and settings.prepaid_balance <= 0:
            context.reload_possible = reload_possible(settings=settings, period_start=period.start)
    member = Counters(spend, included_spend) if spend is not None else Counters()
    return MemberContext(membership, tier, member, context)


def _thresholds(raw) -> list[int]:
    """NotificationSettings.thresholds as read by raw SQL (Django hands jsonb over as text), or the defaults."""
    values = json.loads(raw) if isinstance(raw, str) else raw
    return sorted(values) if values else list(DEFAULT_THRESHOLDS)


def member_context_load(*, organization: Organization, email: str, at: dt.datetime) -> MemberContext | None:
    """One active member's (by lower-cased email) seat, counters and organization context for the period
    containing `at`, in one statement; None when there is no such member. PostgreSQL only (callers fall back to
    member_seats + org_context_load elsewhere)."""
    sql, layout = _member_context_sql("organization")
    row = prepared_fetchone(sql, {"organization": organization.pk, "email": email, "at": at})
    if row is None:
        return None
    return _member_context(row, layout, organization, at)


@dataclass(frozen=True)
class KeyedAdmission:
    """An authenticated admission request: the API key (with its organization) and the decision, or no
    decision (None) when the organization has no active member with that email."""

    key: ApiKey
    admission: Admission | None


def admission_for_key(*, raw_key: str, email: str, product: str | None, now: dt.datetime) -> KeyedAdmission | None:
    """Admission for the active member with this (lower-cased) email, asked with this raw API key; None when the
    key is unknown or revoked. The same answer as api_key_authenticate + member_seats + admission_check, read
    in one statement (refusals may read a little more, to tell whether the member can request extra usage)."""
    if connection.vendor != "postgresql":  # the demo's SQLite: the plain ORM reads
        key = api_key_authenticate(raw_key=raw_key)
        if key is None:
            return None
        found = member_seats(organization=key.organization, emails=[email]).get(email)
        if found is None:
            return KeyedAdmission(key, None)
        return KeyedAdmission(key, admission_check(organization=key.organization, membership=found[0],
                                                   tier=found[1], product=product, now=now))
    if not raw_key or len(raw_key) > API_KEY_MAX_LENGTH:
        return None
    sql, layout = _member_context_sql("key")
    row = prepared_fetchone(sql, {"digest": api_key_digest(raw_key), "email": email, "at": now})
    if row is None:
        return None
    key, organization = layout.load(row, "k"), layout.load(row, "o")
    key.organization = organization
    api_key_mark_used_if_stale(key=key, now=now)
    found = _member_context(row, layout, organization, now)
    if found is None:
        return KeyedAdmission(key, None)
    return KeyedAdmission(key, admission_decide(context=found.context, membership=found.membership,
                                                tier=found.tier, product=product, member=found.member, now=now))
