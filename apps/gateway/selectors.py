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
from dataclasses import dataclass, field

from apps.common.money import ZERO
from apps.common.periods import Period, period_containing
from apps.extra_usage.models import ExtraUsageSettings
from apps.extra_usage.selectors import (
    extra_usage_settings,
    members_who_cannot_request,
    members_with_extra_usage,
    reload_possible,
)
from apps.organizations.models import Membership, Organization, PlanKind
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


# --- The hot path: admission for one member in one query ----------------------------------------------------
# The same decision as member_seats + admission_check (admission_decide is shared), with everything it reads
# loaded by a single SQL statement: the active membership by email, its open seat and tier, the member's
# counters, the member / tier / organization caps, the organization's counter slots (summed only when an
# organization cap is set), the extra-usage settings and the member's extra-usage switch. Measured by
# `make bench` (docs/scaling.md): one round trip instead of six.

_ADMISSION_JOINS = """
FROM organizations_membership m
JOIN accounts_user u ON u.id = m.user_id
LEFT JOIN seats_seatassignment sa ON sa.membership_id = m.id AND sa.ended_at IS NULL
LEFT JOIN seats_seattier t ON t.id = sa.tier_id
LEFT JOIN usage_memberperiodusage mpu ON mpu.membership_id = m.id AND mpu.period_start = %(period)s
LEFT JOIN usage_spendcap mc ON mc.membership_id = m.id AND mc.scope = 'member'
LEFT JOIN usage_spendcap tc ON tc.tier_id = sa.tier_id AND tc.scope = 'seat_tier'
LEFT JOIN usage_spendcap oc ON oc.organization_id = m.organization_id AND oc.scope = 'organization'
LEFT JOIN LATERAL (
    SELECT sum(s.spend) AS spend, sum(s.included_spend) AS included FROM usage_orgusageslot s
    WHERE s.organization_id = m.organization_id AND s.period_start = %(period)s AND oc.amount IS NOT NULL
) os ON true
LEFT JOIN extra_usage_extrausagesettings eus ON eus.organization_id = m.organization_id
LEFT JOIN extra_usage_memberextrausage meu ON meu.membership_id = m.id
WHERE m.organization_id = %(organization)s AND u.email = %(email)s AND m.removed_at IS NULL
LIMIT 1
"""
_admission_sql_cache: dict = {}


def _admission_sql():
    """The statement and, per joined model, the slice of the row holding its columns (built once, from the
    models' own field lists, so a column added by a migration is picked up)."""
    if not _admission_sql_cache:
        from apps.usage.models import SpendCap

        parts, slices, start = [], {}, 0
        for alias, model in (("m", Membership), ("t", SeatTier), ("mc", SpendCap), ("tc", SpendCap),
                             ("oc", SpendCap), ("eus", ExtraUsageSettings)):
            names = [f.attname for f in model._meta.concrete_fields]
            parts += [f'{alias}."{f.column}"' for f in model._meta.concrete_fields]
            slices[alias] = (model, names, slice(start, start + len(names)))
            start += len(names)
        parts += ["mpu.spend", "mpu.included_spend", "meu.enabled", "os.spend", "os.included"]
        _admission_sql_cache.update(sql="SELECT " + ", ".join(parts) + _ADMISSION_JOINS, slices=slices, tail=start)
    return _admission_sql_cache


def admission_for_email(*, organization: Organization, email: str, product: str | None,
                        now: dt.datetime) -> Admission | None:
    """Admission for the active member with this (lower-cased) email now, or None if there is none: the same
    answer as member_seats + admission_check, read in one query (refusals may read a little more, to tell
    whether the member can request extra usage)."""
    from django.db import connection

    if connection.vendor != "postgresql":  # the demo's SQLite: the plain ORM reads
        found = member_seats(organization=organization, emails=[email]).get(email)
        if found is None:
            return None
        return admission_check(organization=organization, membership=found[0], tier=found[1], product=product,
                               now=now)
    import psycopg

    period = period_containing(now, organization.billing_timezone)
    built = _admission_sql()
    params = {"period": period.start, "organization": organization.pk, "email": email}
    # A server-side prepared statement on the persistent connection: planning this eleven-table join costs far
    # more than running it (EXPLAIN ANALYZE: ~0.5 ms to run, several times that to plan), so plan it once.
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django turns psycopg's prepared statements off (None); re-enable them for explicit prepare=True only
        # (Django's own cursors bind client-side and are never prepared). Not for PgBouncer transaction pooling.
        raw.prepare_threshold = 2**31
    with psycopg.Cursor(raw) as cursor:
        cursor.execute(built["sql"], params, prepare=True)
        row = cursor.fetchone()
    if row is None:
        return None

    def load(alias):
        model, names, part = built["slices"][alias]
        values = row[part]
        return None if values[0] is None else model.from_db(connection.alias, names, values)

    membership, tier = load("m"), load("t")
    member_cap, tier_cap, org_cap = load("mc"), load("tc"), load("oc")
    spend, included_spend, member_extra, org_spend, org_included = row[built["tail"]:]
    caps = OrgCaps(
        org_cap,
        {tier_cap.tier_id: tier_cap} if tier_cap is not None else {},
        {member_cap.membership_id: member_cap} if member_cap is not None else {},
    )
    org = (Counters(org_spend or ZERO, org_included or ZERO)
           if org_cap is not None and org_cap.amount is not None else Counters())
    context = OrgContext(organization=organization, period=period, caps=caps, org=org,
                         settings=ExtraUsageSettings(organization=organization))
    if organization.plan_kind != PlanKind.ENTERPRISE_USAGE:
        settings = load("eus")
        if settings is None:
            settings = ExtraUsageSettings(organization=organization)
        else:
            settings.organization = organization
        context.settings = settings
        if settings.enabled and not settings.all_members and member_extra:
            context.extra_enabled_members = {membership.pk}
        if organization.plan_kind == PlanKind.TEAM and settings.prepaid_balance <= 0:
            context.reload_possible = reload_possible(settings=settings, period_start=period.start)
    member = Counters(spend, included_spend) if spend is not None else Counters()
    return admission_decide(context=context, membership=membership, tier=tier, product=product, member=member,
                            now=now)
