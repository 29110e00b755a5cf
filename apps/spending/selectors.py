"""One member's spend context, loaded by one statement, and the admission decision made from it.

A spend context is everything that can stop a member or fund their usage in a billing period: their seat and
tier, their counters, the caps at three levels (member, seat tier, organization) and the organization's
counters, the seat's included usage, the extra-usage settings and the member's switch, the prepaid balance
and the notice thresholds. `spend_context_load` / `spend_contexts_load` read it in a single prepared statement
(apps/common/sql.py), and every reader uses them: admission, usage recording, the spend banner, the console's
limits table, My usage and the Admin API's effective limits. There is no second copy of these reads.

The admission decision (`admission_decide`):

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

from apps.common.money import ZERO
from apps.common.periods import Period, period_containing
from apps.common.sql import JoinedRow, prepared_fetchone, server_bound_fetchall
from apps.extra_usage.models import ExtraUsageSettings
from apps.extra_usage.selectors import extra_usage_settings, members_who_cannot_request, reload_possible
from apps.organizations.models import ApiKey, Membership, Organization, PlanKind
from apps.organizations.services import API_KEY_MAX_LENGTH, api_key_digest
from apps.seats.models import SeatTier
from apps.usage.models import SpendCap
from apps.usage.selectors import Counters, OrgCaps, SpendStatus, spend_status_compute

from .models import DEFAULT_THRESHOLDS


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
    """The organization's side of the spend context for one period, shared by the members loaded with it. The
    recording path updates `org` and the prepaid balance in place as it funds a batch's events."""

    organization: Organization
    period: Period
    caps: OrgCaps
    org: Counters
    settings: ExtraUsageSettings
    notice_thresholds: list[int]
    extra_enabled_members: set[int] = field(default_factory=set)
    cannot_request: set[int] = field(default_factory=set)
    _reload_possible: bool | None = None

    @property
    def reload_possible(self) -> bool:
        """Team with no balance left when the context was loaded: whether an auto-reload can still top it up
        this period (read once, when a decision first needs it)."""
        if self._reload_possible is None:
            self._reload_possible = (
                self.organization.plan_kind == PlanKind.TEAM and self.settings.pk is not None
                and reload_possible(settings=self.settings, period_start=self.period.start))
        return self._reload_possible


@dataclass
class MemberContext:
    """One member's seat and counters for the period, with their organization's context."""

    membership: Membership
    tier: SeatTier | None
    member: Counters
    context: OrgContext
    email: str | None = None
    extra_usage_started_at: dt.datetime | None = None  # when the member's usage first went past their allowance

    @property
    def status(self) -> SpendStatus:
        """The member's effective limit (usage.selectors.SpendStatus), as admission enforces it."""
        return spend_status_compute(membership_id=self.membership.pk, tier_id=self.tier.pk if self.tier else None,
                                    caps=self.context.caps, member=self.member, org=self.context.org)


# --- The statement -------------------------------------------------------------------------------------------
# One statement reads the organization (found by API key digest, id or slug), the billing period (given, or for
# a key computed by PostgreSQL from the organization's billing time zone), the active member(s) matched by
# email, emails, user or membership ids, each one's open seat and tier, counters, member and tier caps and
# extra-usage switch, and the organization's cap, counter slots (summed only when an organization cap is set),
# extra-usage settings and notice thresholds. Measured by `make bench` (docs/scaling.md): one round trip and
# no ORM query building, instead of six to eight queries. Each variant is prepared once per connection.

_HEADS = {
    "key": ("FROM organizations_apikey k JOIN organizations_organization o ON o.id = k.organization_id",
            "WHERE k.digest = %(digest)s AND k.revoked_at IS NULL"),
    "organization": ("FROM organizations_organization o", "WHERE o.id = %(organization)s"),
    "slug": ("FROM organizations_organization o", "WHERE o.slug = %(slug)s"),
}
_MATCHES = {
    "email": "m.removed_at IS NULL AND m.user_id = (SELECT u.id FROM accounts_user u WHERE u.email = %(email)s)",
    "emails": "m.removed_at IS NULL AND m.user_id IN "
              "(SELECT u.id FROM accounts_user u WHERE u.email = ANY(%(emails)s::text[]))",
    "user": "m.removed_at IS NULL AND m.user_id = %(user)s",
    "ids": "m.id = ANY(%(ids)s::bigint[])",
}
_JOINS = """
CROSS JOIN LATERAL (
    SELECT COALESCE(%(period)s::date,
                    date_trunc('month', %(at)s::timestamptz AT TIME ZONE o.billing_timezone)::date) AS period
) p
LEFT JOIN organizations_membership m ON m.organization_id = o.id AND {match}
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
_statements: dict[tuple[str, str], tuple[str, JoinedRow]] = {}


def _statement(head: str, match: str) -> tuple[str, JoinedRow]:
    """The statement and its row layout for one way of finding the organization and its member(s)."""
    if (head, match) not in _statements:
        models = [("o", Organization), ("m", Membership), ("t", SeatTier), ("mc", SpendCap), ("tc", SpendCap),
                  ("oc", SpendCap), ("eus", ExtraUsageSettings)]
        if head == "key":
            models.insert(0, ("k", ApiKey))
        email = "(SELECT u.email FROM accounts_user u WHERE u.id = m.user_id)" if match == "emails" else "NULL"
        layout = JoinedRow(models, extra=["p.period", "mpu.spend", "mpu.included_spend", "meu.enabled", "os.spend",
                                          "os.included", "ns.thresholds", email, "mpu.extra_usage_started_at"])
        source, where = _HEADS[head]
        sql = f"SELECT {layout.select_list} {source} {_JOINS.format(match=_MATCHES[match])} {where}"
        _statements[(head, match)] = (sql, layout)
    return _statements[(head, match)]


def _fetch(head: str, match: str, *, period: Period | None = None, at: dt.datetime | None = None,
           many: bool = False, **params) -> tuple[list[tuple], JoinedRow]:
    sql, layout = _statement(head, match)
    params = {"digest": None, "organization": None, "slug": None, "email": None, "emails": None, "user": None,
              "ids": None, **params, "period": period.start if period else None, "at": at}
    params = {name: value for name, value in params.items() if f"%({name})s" in sql}
    if many:
        # The rows of a list of members: server-side bound like the single-row reads; the text never varies.
        return server_bound_fetchall(sql, params, prepare=True), layout
    row = prepared_fetchone(sql, params)
    return ([row] if row is not None else []), layout


def _thresholds(raw) -> list[int]:
    """NotificationSettings.thresholds as read by raw SQL (jsonb comes back as text), or the defaults."""
    values = json.loads(raw) if isinstance(raw, str) else raw
    return sorted(values) if values else list(DEFAULT_THRESHOLDS)


def _contexts(rows: list[tuple], layout: JoinedRow, organization: Organization,
              period: Period) -> tuple[OrgContext, list[MemberContext]]:
    """The organization's context and each found member's, from fetched rows (one per member, or one with
    no member)."""
    first = rows[0]
    _, _, _, _, org_spend, org_included, thresholds, _, _ = layout.trailing(first)
    org_cap = layout.load(first, "oc")
    settings = None
    if organization.plan_kind != PlanKind.ENTERPRISE_USAGE:
        settings = layout.load(first, "eus")
        if settings is not None:
            settings.organization = organization
    caps = OrgCaps(org_cap, {}, {})
    context = OrgContext(
        organization=organization, period=period, caps=caps,
        org=(Counters(org_spend or ZERO, org_included or ZERO)
             if org_cap is not None and org_cap.amount is not None else Counters()),
        settings=settings or ExtraUsageSettings(organization=organization),
        notice_thresholds=_thresholds(thresholds),
    )
    members = []
    for row in rows:
        membership = layout.load(row, "m")
        if membership is None:
            continue
        membership.organization = organization
        _, spend, included_spend, member_extra, _, _, _, email, started_at = layout.trailing(row)
        tier, member_cap, tier_cap = layout.load(row, "t"), layout.load(row, "mc"), layout.load(row, "tc")
        if member_cap is not None:
            caps.members[membership.pk] = member_cap
        if tier_cap is not None:
            caps.tiers[tier_cap.tier_id] = tier_cap
        if settings is not None and settings.enabled and not settings.all_members and member_extra:
            context.extra_enabled_members.add(membership.pk)
        counters = Counters(spend, included_spend) if spend is not None else Counters()
        members.append(MemberContext(membership, tier, counters, context, email, started_at))
    if settings is None or settings.prepaid_balance > 0:
        context._reload_possible = False  # a balance left at load: recording's draws do not change the answer
    return context, members


def spend_context_load(*, organization: Organization, email: str, period: Period) -> MemberContext | None:
    """The active member's (by lower-cased email) spend context for a period; None when the organization has
    no such member."""
    rows, layout = _fetch("organization", "email", organization=organization.pk, email=email, period=period)
    _, members = _contexts(rows, layout, organization, period)
    return members[0] if members else None


def spend_contexts_load(*, organization: Organization, period: Period, membership_ids: list[int] | None = None,
                        emails: list[str] | None = None) -> tuple[OrgContext, dict]:
    """The organization's context and its members' for a period, in one statement: by membership ids (any
    membership, removed or not, keyed by id) or by active members' lower-cased emails (keyed by email). Members
    not found are absent."""
    if emails is not None:
        rows, layout = _fetch("organization", "emails", organization=organization.pk, emails=emails,
                              period=period, many=True)
        context, members = _contexts(rows, layout, organization, period)
        return context, {m.email: m for m in members}
    rows, layout = _fetch("organization", "ids", organization=organization.pk, ids=list(membership_ids or []),
                          period=period, many=True)
    context, members = _contexts(rows, layout, organization, period)
    return context, {m.membership.pk: m for m in members}


def spend_context_for_user(*, user_id: int, slug: str, now: dt.datetime) -> MemberContext | None:
    """The spend context, in the current period, of a user's active membership in the organization with this
    slug; None when they are not a member. The period is computed by PostgreSQL and checked against Python's."""
    rows, layout = _fetch("slug", "user", slug=slug, user=user_id, at=now)
    if not rows or layout.load(rows[0], "m") is None:
        return None
    return _checked(rows, layout, layout.load(rows[0], "o"), now,
                    lambda organization, period: _fetch("slug", "user", slug=slug, user=user_id, period=period))


def _checked(rows, layout, organization: Organization, at: dt.datetime, reload) -> MemberContext | None:
    """The member's context from rows whose period PostgreSQL computed from `at`; read again with the period
    Python computes when the two time-zone databases disagree (Python's is the one billing uses)."""
    period = period_containing(at, organization.billing_timezone)
    if layout.trailing(rows[0])[0] != period.start:
        rows, layout = reload(organization, period)
        if not rows:
            return None
    _, members = _contexts(rows, layout, organization, period)
    return members[0] if members else None


# --- The admission decision ----------------------------------------------------------------------------------


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


def member_admission(*, found: MemberContext, product: str | None, now: dt.datetime) -> Admission:
    return admission_decide(context=found.context, membership=found.membership, tier=found.tier, product=product,
                            member=found.member, now=now)


def admission_check(*, organization: Organization, membership: Membership, product: str | None,
                    now: dt.datetime) -> Admission:
    """Admission for one member now (their seat and counters read with the rest of their context)."""
    period = period_containing(now, organization.billing_timezone)
    _, members = spend_contexts_load(organization=organization, membership_ids=[membership.pk], period=period)
    return member_admission(found=members[membership.pk], product=product, now=now)


@dataclass(frozen=True)
class KeyedAdmission:
    """An authenticated admission request: the API key (with its organization) and the decision, or no
    decision (None) when the organization has no active member with that email."""

    key: ApiKey
    admission: Admission | None


def admission_for_key(*, raw_key: str, email: str, product: str | None, now: dt.datetime) -> KeyedAdmission | None:
    """Admission for the active member with this (lower-cased) email, asked with this raw API key; None when the
    key is unknown or revoked. Key, member and context in one statement (refusals may read a little more, to
    tell whether the member can request extra usage). Reads only: marking the key used is the caller's write."""
    if not raw_key or len(raw_key) > API_KEY_MAX_LENGTH:
        return None
    rows, layout = _fetch("key", "email", digest=api_key_digest(raw_key), email=email, at=now)
    if not rows:
        return None
    key, organization = layout.load(rows[0], "k"), layout.load(rows[0], "o")
    key.organization = organization
    if layout.load(rows[0], "m") is None:
        return KeyedAdmission(key, None)
    found = _checked(rows, layout, organization, now, lambda org, period: _fetch(
        "organization", "email", organization=org.pk, email=email, period=period))
    if found is None:
        return KeyedAdmission(key, None)
    return KeyedAdmission(key, member_admission(found=found, product=product, now=now))


def spend_context_for_key(*, raw_key: str, email: str,
                          at: dt.datetime) -> tuple[ApiKey, Period, MemberContext | None] | None:
    """The API key (with its organization), the billing period containing `at` and the spend context in it of
    the active member with this (lower-cased) email (None: not a member), in one statement; None when the key
    is unknown or revoked. A single usage event's key and member, read in one round trip like admission's."""
    if not raw_key or len(raw_key) > API_KEY_MAX_LENGTH:
        return None
    rows, layout = _fetch("key", "email", digest=api_key_digest(raw_key), email=email, at=at)
    if not rows:
        return None
    key, organization = layout.load(rows[0], "k"), layout.load(rows[0], "o")
    key.organization = organization
    period = period_containing(at, organization.billing_timezone)
    if layout.load(rows[0], "m") is None:
        return key, period, None
    return key, period, _checked(rows, layout, organization, at, lambda org, period: _fetch(
        "organization", "email", organization=org.pk, email=email, period=period))
