"""The in-app spend banner on every organization page (templates/monitoring/_banner.html, included by
base.html): the member's own state (approaching or reached their limit, included usage running out) and, for
owners, the organization's cap. Lazy: one query, only when a page renders it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.common.money import ZERO, money_format, percent_format
from apps.common.periods import period_containing
from apps.organizations.models import Membership, Organization, PlanKind, Role
from apps.seats.models import SeatAssignment, SeatTier
from apps.usage.models import CapScope, MemberPeriodUsage, OrgUsageSlot, SpendCap
from apps.usage.selectors import (
    Counters,
    OrgCaps,
    member_counters,
    org_caps,
    org_counters,
    spend_status_compute,
)

from .models import DEFAULT_THRESHOLDS, NotificationSettings


@dataclass(frozen=True)
class BannerLine:
    level: str  # "approaching" or "reached"
    text: str


@dataclass(frozen=True)
class Banner:
    lines: list[BannerLine]
    link: str | None
    link_label: str

    @property
    def level(self) -> str:
        return "reached" if any(line.level == "reached" for line in self.lines) else "approaching"


def _t(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _load_portable(user_id: int, slug: str, now) -> dict | None:
    """The same figures as _load, read with the ORM (a few queries): for the demo's SQLite."""
    membership = (
        Membership.objects.active().select_related("organization")
        .filter(user_id=user_id, organization__slug=slug).first()
    )
    if membership is None:
        return None
    organization = membership.organization
    period_start = period_containing(now, organization.billing_timezone).start
    seat = SeatAssignment.objects.select_related("tier").filter(membership=membership, ended_at__isnull=True).first()
    tier = seat.tier if seat else None
    caps = org_caps(organization=organization, membership_ids=[membership.pk])
    tier_cap = caps.tiers.get(tier.pk) if tier else None
    thresholds = (
        NotificationSettings.objects.filter(organization=organization).values_list("thresholds", flat=True).first()
    )
    return {
        "membership_id": membership.pk, "role": membership.role, "plan": organization.plan_kind,
        "tier_id": tier.pk if tier else None, "included": tier.included_usage.amount if tier else None,
        "member_cap": caps.members[membership.pk].amount if membership.pk in caps.members else None,
        "tier_cap": tier_cap.amount if tier_cap else None,
        "org_cap": caps.organization.amount if caps.organization else None,
        "thresholds": sorted(thresholds) if thresholds else list(DEFAULT_THRESHOLDS),
        "member": member_counters(membership_id=membership.pk, period_start=period_start),
        "org": org_counters(organization_id=organization.pk, period_start=period_start),
    }


def _load(user_id: int, slug: str, now) -> dict | None:
    """Everything the banner needs in one query; the period is the local month of `now` in the organization's
    billing time zone, as common.periods computes it."""
    if connection.vendor != "postgresql":
        return _load_portable(user_id, slug, now)
    sql = f"""
        WITH me AS (
          SELECT m.id AS mid, m.role, o.id AS org_id, o.plan_kind, sa.tier_id, t.included_usage,
                 date_trunc('month', %s::timestamptz AT TIME ZONE o.billing_timezone)::date AS period_start
          FROM {_t(Membership)} m JOIN {_t(Organization)} o ON o.id = m.organization_id
          LEFT JOIN {_t(SeatAssignment)} sa ON sa.membership_id = m.id AND sa.ended_at IS NULL
          LEFT JOIN {_t(SeatTier)} t ON t.id = sa.tier_id
          WHERE m.user_id = %s AND o.slug = %s AND m.removed_at IS NULL
        )
        SELECT me.mid, me.role, me.plan_kind, me.tier_id, me.included_usage,
          (SELECT amount FROM {_t(SpendCap)} WHERE scope = 'member' AND membership_id = me.mid),
          (SELECT amount FROM {_t(SpendCap)} WHERE scope = 'seat_tier' AND tier_id = me.tier_id),
          (SELECT amount FROM {_t(SpendCap)} WHERE scope = 'organization' AND organization_id = me.org_id),
          (SELECT thresholds FROM {_t(NotificationSettings)} WHERE organization_id = me.org_id),
          u.spend, u.included_spend, s.spend, s.included_spend
        FROM me
        LEFT JOIN {_t(MemberPeriodUsage)} u ON u.membership_id = me.mid AND u.period_start = me.period_start
        LEFT JOIN LATERAL (
          SELECT SUM(spend) AS spend, SUM(included_spend) AS included_spend FROM {_t(OrgUsageSlot)}
          WHERE organization_id = me.org_id AND period_start = me.period_start
        ) s ON true
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, user_id, slug])
        row = cursor.fetchone()
    if row is None:
        return None
    row = list(row)
    if isinstance(row[8], str):  # jsonb comes back as text through Django's psycopg adapters
        row[8] = json.loads(row[8])
    (mid, role, plan, tier_id, included, member_cap, tier_cap, org_cap, thresholds, spend, included_spend,
     org_spend, org_included) = row
    return {
        "membership_id": mid, "role": role, "plan": plan, "tier_id": tier_id, "included": included,
        "member_cap": member_cap, "tier_cap": tier_cap, "org_cap": org_cap,
        "thresholds": sorted(thresholds) if thresholds else list(DEFAULT_THRESHOLDS),
        "member": Counters(spend or ZERO, included_spend or ZERO),
        "org": Counters(org_spend or ZERO, org_included or ZERO),
    }


def _cap(scope: str, amount: Decimal | None) -> SpendCap | None:
    return None if amount is None else SpendCap(scope=scope, amount=amount)


def banner_for(*, user: User, slug: str, now) -> Banner | None:
    """The banner lines for this user in this organization, or None when there is nothing to say. The
    warning level is the organization's lowest notification threshold; "reached" means blocked."""
    data = _load(user.pk, slug, now)
    if data is None:
        return None
    warn = Decimal(data["thresholds"][0]) / 100 if data["thresholds"][0] < 100 else Decimal(1)
    seat_based = data["plan"] in (PlanKind.TEAM, PlanKind.ENTERPRISE_SEAT)
    caps = OrgCaps(
        organization=_cap(CapScope.ORGANIZATION, data["org_cap"]),
        tiers={data["tier_id"]: _cap(CapScope.SEAT_TIER, data["tier_cap"])} if data["tier_cap"] is not None else {},
        members={data["membership_id"]: _cap(CapScope.MEMBER, data["member_cap"])}
        if data["member_cap"] is not None else {},
    )
    status = spend_status_compute(membership_id=data["membership_id"], tier_id=data["tier_id"], caps=caps,
                                  member=data["member"], org=data["org"])
    lines = []
    if status.limit is not None:
        if status.blocked:
            by_org = status.source == CapScope.ORGANIZATION
            if seat_based:
                text = (_("Your extra usage is paused: the organization's spend cap of %(limit)s is reached for this "
                          "period.") if by_org else
                        _("Your extra usage is paused: your spend limit of %(limit)s is reached for this period."))
            else:
                text = (_("Your usage is paused: the organization's spend cap of %(limit)s is reached for this "
                          "period.") if by_org else
                        _("Your usage is paused: your spend limit of %(limit)s is reached for this period."))
            lines.append(BannerLine("reached", text % {"limit": money_format(status.limit)}))
        elif status.limit > 0 and (status.limit - status.remaining) >= status.limit * warn:
            used = (status.limit - status.remaining) / status.limit
            lines.append(BannerLine("approaching", _("You have used %(share)s of your spend limit (%(left)s left).") % {
                "share": percent_format(used), "left": money_format(status.remaining)}))
    if seat_based and data["included"] and data["included"] > 0:
        used = data["member"].included_spend / data["included"]
        if used >= 1:
            lines.append(BannerLine("approaching", _("You have used all of your seat's included usage this period.")))
        elif used >= warn:
            lines.append(BannerLine("approaching", _("You have used %(share)s of your seat's included usage.") % {
                "share": percent_format(used)}))
    is_owner = data["role"] in (Role.OWNER, Role.PRIMARY_OWNER)
    if is_owner and data["org_cap"] is not None:
        org_cap = data["org_cap"]
        capped = data["org"].capped
        if capped >= org_cap:
            lines.append(BannerLine("reached", _("The organization has reached its spend cap of %(cap)s.") % {
                "cap": money_format(org_cap)}))
        elif org_cap > 0 and capped >= org_cap * warn:
            lines.append(BannerLine("approaching", _("The organization has used %(share)s of its spend cap of "
                                                     "%(cap)s.") % {"share": percent_format(capped / org_cap),
                                                                    "cap": money_format(org_cap)}))
    if not lines:
        return None
    name, label = (("monitoring:dashboard", _("Open the usage dashboard")) if is_owner
                   else ("monitoring:my_usage", _("See my usage")))
    try:
        link = reverse(name, kwargs={"slug": slug})
    except NoReverseMatch:
        link = None
    return Banner(lines, link, label)


def spend_banner(request):
    match = getattr(request, "resolver_match", None)
    slug = match.kwargs.get("slug") if match else None
    user = getattr(request, "user", None)
    if not slug or user is None or not user.is_authenticated:
        return {"spend_banner": None}
    return {"spend_banner": SimpleLazyObject(lambda: banner_for(user=user, slug=slug, now=timezone.now()))}
