"""Reads for invoicing: the computation of a period's lines (no writes), and the pages' queries.

The rules of the bill (each stated once, here):

Seat fees. Each member is billed, per tier, `monthly fee × days held / days in the period`, where days are
LOCAL dates in the organization's billing time zone, so a daylight-saving change never makes a day longer or
shorter. A seat interval [started_at, ended_at) holds the local days [local date of started_at, local date of
ended_at): the day of a change counts for the tier held at the END of that day (the new tier), which is the
rule seat_change_proration charges an upgrade by. A seat taken away on a day is not billed for that day.
Several changes on one day bill that day once, at the last tier.

Upgrades already charged. A mid-period upgrade was charged at once (SeatCharge: fee difference × remaining
days / period days). The seat-fee lines above bill each tier for the days it was held, so the invoice shows
the upgrade charge as its own credit line ("already charged at upgrade", negative), and the member's seat
total is exactly the days-held proration: the difference is never charged twice. A downgrade takes effect at
once and is billed by days held as well.

HIPAA. On usage-based Enterprise with the HIPAA-ready option, each member's seat days also carry
HIPAA_FEE_PER_SEAT per month, prorated the same way.

Usage, ONE line per member per kind, from the usage ledger (apps.common.money's rounding rule: each member's
amount of each kind is rounded once, from its exact sum):
- usage-based Enterprise bills all usage (cost): one "Usage" line per member;
- seat-based plans show the usage covered by the seat's included usage as one informational line per member
  ("Covered by included usage", never billed), and bill the extra usage (cost − included_cost) as one line;
- Team's extra usage was drawn from the prepaid balance: shown for information, not billed; the period's
  prepaid purchases and auto-reloads (already paid) are shown for information too.
The same single pass over the events also sums them by model and product (InvoiceUsageRow, exact): that
breakdown is included in the member lines and never billed or rounded again.

Late usage. An invoice covers the events received before its usage cutoff. Events of an earlier, already
invoiced period received after that invoice's cutoff are billed on the next invoice as "Late usage adjustment
for <period>" lines, one per member per earlier period: its window is [previous invoice's cutoff, this cutoff).
No event is lost or billed twice.

Rounding (apps.common.money, ROUNDING_RULE). Each line keeps its exact amount (1e-10 dollars) and is rounded
to cents half up once (round_to_cents); the total is the sum of the rounded billed lines, exactly
(rounded_total). A member's seat fee is one line whatever the number of tiers held, and their upgrades
already charged one credit line.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field, fields
from decimal import ROUND_HALF_UP, Decimal

from babel.dates import format_date, format_interval
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, F, Max, QuerySet, Sum
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.common.money import MONEY_PLACES, ZERO, babel_locale, round_to_cents, rounded_total
from apps.common.periods import Period, local_date
from apps.extra_usage.models import LedgerKind, PrepaidLedgerEntry
from apps.monitoring.totals import BilledPeriod
from apps.organizations.models import Membership, Organization, PlanKind, Role
from apps.seats.defaults import HIPAA_FEE_PER_SEAT
from apps.seats.models import Product, SeatCharge, SeatTier, TierCode
from apps.seats.selectors import seat_history
from apps.usage.models import AIModel, UsageEvent

from .models import (
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    InvoicePayment,
    InvoiceStatus,
    InvoiceUsageRow,
    LineKind,
)

FULL_PRECISION = Decimal(1).scaleb(-MONEY_PLACES)
# The order of a member's lines on the document.
KIND_ORDER = {
    LineKind.SEAT_FEE: 0,
    LineKind.HIPAA: 1,
    LineKind.SEAT_UPGRADE_CHARGE: 2,
    LineKind.INCLUDED_USAGE: 3,
    LineKind.USAGE: 4,
    LineKind.PREPAID_USAGE_INFO: 4,
    LineKind.LATE_USAGE_ADJUSTMENT: 5,
    LineKind.PREPAID_PURCHASE: 6,
    LineKind.AUTO_RELOAD: 6,
}


def _exact(amount: Decimal) -> Decimal:
    """The stored full-precision amount (1e-10 dollars); the rounded amount is derived from it."""
    return amount.quantize(FULL_PRECISION, rounding=ROUND_HALF_UP)


@dataclass(slots=True)
class LineData:
    """A computed invoice line, before it is written (field names match InvoiceLine's columns). Plain data,
    so a 10,000-member invoice does not build tens of thousands of model instances."""

    kind: str
    description: str
    unrounded_amount: Decimal
    amount: Decimal = ZERO
    membership_id: int | None = None
    member_email: str = ""
    member_name: str = ""
    member_index: int | None = None
    product: str = ""
    model_id: int | None = None
    usage_period_start: dt.date | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    event_count: int = 0
    usage_cost: Decimal | None = None
    included_cost: Decimal | None = None
    days: int | None = None
    period_days: int | None = None
    unit_price: Decimal | None = None
    informational: bool = False
    position: int = 0
    detail: dict | None = None


LINE_COLUMNS = [f.name for f in fields(LineData)]


DESCRIPTION_MAX = 300  # InvoiceLine.description; the full detail of a long one is in `detail`


def _line(**kwargs) -> LineData:
    if len(kwargs["description"]) > DESCRIPTION_MAX:
        kwargs["description"] = kwargs["description"][:DESCRIPTION_MAX - 1] + "…"
    unrounded = _exact(kwargs.pop("unrounded_amount"))
    return LineData(unrounded_amount=unrounded, amount=round_to_cents(unrounded), **kwargs)


def month_label(day: dt.date) -> str:
    """"November 2026" in the active language (Babel): lines are written in the invoice's language."""
    return format_date(day, "MMMM y", locale=babel_locale())


def _day(day: dt.date) -> str:
    """"Nov 12" in the active language."""
    return format_date(day, "MMM d", locale=babel_locale())


_DIGITS = re.compile(r"(\d+)")


def natural_sort_key(text: str) -> tuple:
    """Natural order: case-insensitive, runs of digits compared as numbers ("member2" before "member10")."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in _DIGITS.split(text.casefold()) if part)


def _day_ranges(days: list[tuple[dt.date, dt.date]]) -> str:
    """'Nov 1–11, Nov 20–30' for local [start, end) ranges."""
    parts = []
    for start, end in days:
        last = end - dt.timedelta(days=1)
        parts.append(_day(start) if last == start else format_interval(
            start, last, "MMMd", locale=babel_locale()).replace("\u2009–\u2009", "–"))
    return ", ".join(parts)


@dataclass
class _SeatDays:
    tier_id: int
    days: int = 0
    ranges: list = field(default_factory=list)


def _seat_lines(*, organization: Organization, period: Period, emails: dict[int, str]) -> list[LineData]:
    tz = period.tz
    tiers = {t.pk: t for t in SeatTier.objects.filter(organization=organization)}
    held: dict[tuple[int, int], _SeatDays] = {}
    member_days: dict[int, int] = defaultdict(int)
    intervals = seat_history(organization=organization, starts_at=period.starts_at, ends_at=period.ends_at)
    for membership_id, tier_id, started_at, ended_at, email in intervals.values_list(
        "membership_id", "tier_id", "started_at", "ended_at", "membership__user__email"
    ):
        emails[membership_id] = email
        first = max(started_at.astimezone(tz).date(), period.start)
        end = period.end if ended_at is None else min(ended_at.astimezone(tz).date(), period.end)
        if end <= first:
            continue  # held for part of a day that counts for a later tier (or not at all)
        entry = held.setdefault((membership_id, tier_id), _SeatDays(tier_id=tier_id))
        entry.days += (end - first).days
        entry.ranges.append((first, end))
        member_days[membership_id] += (end - first).days

    per_member: dict[int, list[_SeatDays]] = defaultdict(list)
    for (membership_id, _tier_id), entry in held.items():
        per_member[membership_id].append(entry)
    lines = []
    for membership_id, entries in per_member.items():
        # One seat-fee line per member, rounded once: the exact sum of each tier's days-held proration.
        entries.sort(key=lambda entry: entry.ranges[0][0])
        unrounded = sum((tiers[e.tier_id].monthly_fee.amount * e.days / period.days for e in entries), ZERO)
        days = sum(e.days for e in entries)
        parts = [_("%(tier)s seat, %(ranges)s (%(days)s of %(period_days)s days)") % {
            "tier": tiers[e.tier_id].get_code_display(), "ranges": _day_ranges(e.ranges), "days": e.days,
            "period_days": period.days} for e in entries]
        lines.append(_line(
            kind=LineKind.SEAT_FEE, membership_id=membership_id, description="; ".join(parts),
            days=days, period_days=period.days,
            unit_price=tiers[entries[0].tier_id].monthly_fee.amount if len(entries) == 1 else None,
            unrounded_amount=unrounded,
            detail={"tiers": [{"tier": tiers[e.tier_id].code, "days": e.days,
                               "ranges": [[a.isoformat(), b.isoformat()] for a, b in e.ranges]}
                              for e in entries]},
        ))
    if organization.plan_kind == PlanKind.ENTERPRISE_USAGE and organization.hipaa_ready:
        for membership_id, days in member_days.items():
            lines.append(_line(
                kind=LineKind.HIPAA, membership_id=membership_id,
                description=_("HIPAA-ready add-on (%(days)s of %(period_days)s days)") % {
                    "days": days, "period_days": period.days},
                days=days, period_days=period.days, unit_price=HIPAA_FEE_PER_SEAT,
                unrounded_amount=HIPAA_FEE_PER_SEAT * days / period.days,
            ))
    return lines


def _upgrade_credit_lines(*, organization: Organization, period: Period, emails: dict[int, str]) -> list[LineData]:
    """One credit line per member: the sum of their upgrades already charged this period (each charge was a
    whole-cent amount, so the sum is exact)."""
    labels = dict(TierCode.choices)
    charges = (
        SeatCharge.objects.filter(organization=organization, period_start=period.start)
        .order_by("created_at", "id")
        .values_list("membership_id", "membership__user__email", "from_tier__code", "to_tier__code", "created_at",
                     "amount", "remaining_days", "period_days")
    )
    per_member: dict[int, list] = defaultdict(list)
    for membership_id, email, from_code, to_code, created_at, amount, remaining, period_days in charges:
        emails[membership_id] = email
        per_member[membership_id].append((from_code, to_code, created_at.astimezone(period.tz).date(), amount,
                                          remaining, period_days))
    lines = []
    for membership_id, upgrades in per_member.items():
        parts = [_("%(old)s → %(new)s upgrade on %(day)s, already charged (%(days)s of %(period_days)s days)") % {
            "old": labels[f], "new": labels[t], "day": _day(day), "days": remaining, "period_days": days_in}
            for f, t, day, _amount, remaining, days_in in upgrades]
        lines.append(_line(
            kind=LineKind.SEAT_UPGRADE_CHARGE, membership_id=membership_id, description="; ".join(parts),
            days=sum(u[4] for u in upgrades), period_days=upgrades[0][5],
            unrounded_amount=-sum((u[3] for u in upgrades), ZERO),
            detail={"upgrades": [{"from": f, "to": t, "day": day.isoformat(), "remaining": remaining,
                                  "period_days": period_days} for f, t, day, _, remaining, period_days in upgrades]},
        ))
    return lines


@dataclass(slots=True)
class UsageRowData:
    """An exact breakdown row (model × product × earlier period), written as an InvoiceUsageRow."""

    model_id: int
    product: str
    usage_period_start: dt.date | None
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    event_count: int
    usage_cost: Decimal
    included_cost: Decimal
    billable: Decimal
    informational: bool


USAGE_ROW_COLUMNS = [f.name for f in fields(UsageRowData)]


def _usage_aggregate(*, organization: Organization, period: Period, usage_from, usage_cutoff,
                     with_included: bool) -> list[tuple]:
    """The invoice's events (the period's own, received before the cutoff, and the late ones of earlier periods
    received in [usage_from, cutoff)), summed per member and per model × product. Three statements whatever
    the number of members: the period's events per member and per model × product (each a plain GROUP BY the
    planner runs in parallel with small partial states: one pass grouping by member × model × product, or by
    GROUPING SETS, measured slower on 1.5M events, see bench/invoice_bench.py), and the late events with
    GROUPING SETS (a small window). Rows: (by_member, membership_id, model_id, product, late_period, cost,
    included, input, output, cache_write, cache_read, events)."""
    table = connection.ops.quote_name(UsageEvent._meta.db_table)
    # Usage-based Enterprise has no included usage: one numeric sum fewer over the month's events.
    included = "sum(included_cost)" if with_included else "0::numeric"
    sums = (f"sum(cost), {included}, sum(input_tokens), sum(output_tokens), sum(cache_write_tokens), "
            f"sum(cache_read_tokens), count(*)")
    current = "WHERE organization_id = %s AND period_start = %s AND received_at < %s"
    params = [organization.pk, period.start, usage_cutoff]
    rows: list[tuple] = []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT membership_id, {sums} FROM {table} {current} GROUP BY membership_id", params)
        rows += [(True, m, None, "", None, *rest) for m, *rest in cursor.fetchall()]
        cursor.execute(f"SELECT model_id, product, {sums} FROM {table} {current} GROUP BY model_id, product", params)
        rows += [(False, None, model, product, None, *rest) for model, product, *rest in cursor.fetchall()]
        if usage_from is not None:
            cursor.execute(
                f"SELECT GROUPING(membership_id) = 0, membership_id, model_id, product, period_start, {sums} "
                f"FROM {table} WHERE organization_id = %s AND period_start < %s AND received_at >= %s "
                f"AND received_at < %s "
                f"GROUP BY GROUPING SETS ((membership_id, period_start), (model_id, product, period_start))",
                [organization.pk, period.start, usage_from, usage_cutoff])
            rows += cursor.fetchall()
    return rows


def _usage_lines(*, organization: Organization, period: Period, usage_from, usage_cutoff,
                 usage_rows: list[UsageRowData]) -> list[LineData]:
    """The members' usage lines (one per member per kind, each rounded once) and, into `usage_rows`, the exact
    breakdown by model and product, from one pass over the events."""
    team = organization.plan_kind == PlanKind.TEAM
    bills_all = organization.plan_kind == PlanKind.ENTERPRISE_USAGE
    # Usage-based Enterprise has no included usage: one numeric sum fewer over the month's events.
    rows = _usage_aggregate(organization=organization, period=period, usage_from=usage_from,
                            usage_cutoff=usage_cutoff, with_included=not bills_all)
    lines = []
    for by_member, membership_id, model_id, product, late_period, cost, included, i, o, cw, cr, n in rows:
        billed = cost if bills_all else cost - included
        if not by_member:
            usage_rows.append(UsageRowData(
                model_id=model_id, product=product, usage_period_start=late_period, input_tokens=i,
                output_tokens=o, cache_write_tokens=cw, cache_read_tokens=cr, event_count=n, usage_cost=cost,
                included_cost=included, billable=billed, informational=team,
            ))
            continue
        tokens = {"input_tokens": i, "output_tokens": o, "cache_write_tokens": cw, "cache_read_tokens": cr,
                  "event_count": n}
        if late_period is not None:
            if billed == 0:
                continue  # all of it was included: nothing billed or drawn, nothing to adjust
            description = (_("Late usage adjustment for %(month)s (drawn from the prepaid balance)") if team else
                           _("Late usage adjustment for %(month)s")) % {"month": month_label(late_period)}
            lines.append(_line(
                kind=LineKind.LATE_USAGE_ADJUSTMENT, membership_id=membership_id, usage_period_start=late_period,
                description=description, usage_cost=cost, included_cost=None if bills_all else included,
                unrounded_amount=billed, informational=team, **tokens,
            ))
            continue
        if not bills_all and included:
            # The part the seat's included usage covered: shown, never billed (it is in the seat fee).
            lines.append(_line(
                kind=LineKind.INCLUDED_USAGE, membership_id=membership_id,
                description=_("Covered by included usage"), included_cost=included,
                unrounded_amount=included, informational=True, **({} if billed else tokens),
            ))
        if not billed:
            continue  # nothing billed or drawn: no $0.00 line
        if bills_all:
            kind, description = LineKind.USAGE, _("Usage at API rates")
        elif team:
            kind, description = LineKind.PREPAID_USAGE_INFO, _("Extra usage drawn from the prepaid balance")
        else:
            kind, description = LineKind.USAGE, _("Extra usage")
        lines.append(_line(
            kind=kind, membership_id=membership_id, description=description, usage_cost=cost,
            included_cost=None if bills_all else included, unrounded_amount=billed, informational=team, **tokens,
        ))
    return lines


def _prepaid_lines(*, organization: Organization, period: Period) -> list[LineData]:
    if organization.plan_kind != PlanKind.TEAM:
        return []
    entries = PrepaidLedgerEntry.objects.filter(
        organization=organization, period_start=period.start, kind__in=[LedgerKind.PURCHASE, LedgerKind.AUTO_RELOAD]
    ).order_by("created_at", "id").values_list("kind", "amount", "created_at")
    lines = []
    for kind, amount, created_at in entries:
        day = created_at.astimezone(period.tz).date()
        reload = kind == LedgerKind.AUTO_RELOAD
        lines.append(_line(
            kind=LineKind.AUTO_RELOAD if reload else LineKind.PREPAID_PURCHASE,
            description=(_("Auto-reload of prepaid extra usage on %(day)s (already paid)") if reload else
                         _("Prepaid extra usage purchased on %(day)s (already paid)")) % {"day": _day(day)},
            unrounded_amount=amount, informational=True, detail={"day": day.isoformat()},
        ))
    return lines


def invoice_lines_compute(*, organization: Organization, period: Period, usage_from: dt.datetime | None,
                          usage_cutoff: dt.datetime) -> list[LineData]:
    """The lines of an organization's invoice for a period (unsaved, in document order); see
    invoice_document_compute for the breakdown by model and product too."""
    return invoice_document_compute(organization=organization, period=period, usage_from=usage_from,
                                    usage_cutoff=usage_cutoff)[0]


def invoice_document_compute(*, organization: Organization, period: Period, usage_from: dt.datetime | None,
                             usage_cutoff: dt.datetime) -> tuple[list[LineData], list[UsageRowData]]:
    """The lines of an organization's invoice for a period (unsaved, in document order), by the rules in
    this module's docstring, and the exact usage breakdown by model and product. A fixed number of queries,
    whatever the number of members: usage is aggregated in SQL in one pass over the events and the seat history
    is read in one query. Members are numbered in natural order of name, then email (`member_index`), and
    their lines follow that order."""
    emails: dict[int, str] = {}
    usage_rows: list[UsageRowData] = []
    lines = _seat_lines(organization=organization, period=period, emails=emails)
    lines += _upgrade_credit_lines(organization=organization, period=period, emails=emails)
    lines += _usage_lines(organization=organization, period=period, usage_from=usage_from,
                          usage_cutoff=usage_cutoff, usage_rows=usage_rows)
    people = {
        pk: (email, name) for pk, email, name in Membership.objects.filter(
            pk__in={line.membership_id for line in lines}
        ).values_list("pk", "user__email", "user__name")
    }
    ranked = sorted(people, key=lambda pk: (natural_sort_key(people[pk][1] or people[pk][0]),
                                             natural_sort_key(people[pk][0]), pk))
    index = {pk: i for i, pk in enumerate(ranked, start=1)}
    for line in lines:
        line.member_email, line.member_name = people[line.membership_id]
        line.member_index = index[line.membership_id]
    lines.sort(key=lambda line: (line.member_index, KIND_ORDER[line.kind], line.usage_period_start or dt.date.min))
    lines += _prepaid_lines(organization=organization, period=period)
    for position, line in enumerate(lines):
        line.position = position
    models = dict(AIModel.objects.values_list("pk", "display_name"))
    usage_rows.sort(key=lambda row: (row.usage_period_start or dt.date.min, models.get(row.model_id, ""),
                                     row.product))
    return lines, usage_rows


def invoice_totals(lines: list[LineData]) -> Decimal:
    """The total: the sum of the rounded amounts of the billed (not informational) lines, exactly (rule 3 of
    apps.common.money: each line was rounded once from its exact amount)."""
    return rounded_total(line.unrounded_amount for line in lines if not line.informational)


def previous_usage_cutoff(*, organization: Organization, period_start: dt.date) -> dt.datetime | None:
    """Where the next invoice's late-usage window starts: the latest cutoff of an earlier period's invoice."""
    return Invoice.objects.filter(organization=organization, period_start__lt=period_start).aggregate(
        cutoff=Max("usage_cutoff")
    )["cutoff"]


# --- Pages -------------------------------------------------------------------------------------------------


def invoices_for_organization(*, organization: Organization) -> QuerySet[Invoice]:
    return (
        Invoice.objects.filter(organization=organization)
        .exclude(status=InvoiceStatus.DRAFT)
        .select_related("replaces", "replaced_by")
        .order_by("-period_start", "-id")
    )


def invoice_by_number(*, organization: Organization, number: str) -> Invoice:
    """An issued or void invoice of this organization, or 404 (another organization's number is a 404)."""
    invoice = (
        Invoice.objects.filter(organization=organization, number=number)
        .exclude(status=InvoiceStatus.DRAFT)
        .select_related("organization", "replaces", "replaced_by")
        .first()
    )
    if invoice is None:
        raise Http404
    return invoice


@dataclass
class MemberGroup:
    index: int
    name: str
    email: str
    lines: list  # the lines shown (an amount other than $0.00, or informational with an amount)
    total: Decimal
    folded: list = field(default_factory=list)  # $0.00 lines, folded into one "covered by included usage" row
    included_cost: Decimal = ZERO  # usage covered by the seat's included usage (exact)

    @property
    def fully_included(self) -> bool:
        """All of the member's usage was covered by included usage (nothing billed or drawn for usage)."""
        return self.included_cost > 0 and not any(
            line.kind in USAGE_KINDS and line.amount for line in self.lines)


# The kinds that bill (or, on Team, draw from the prepaid balance) a member's usage, one line each.
USAGE_KINDS = (LineKind.USAGE, LineKind.PREPAID_USAGE_INFO, LineKind.LATE_USAGE_ADJUSTMENT)


def member_groups_of(lines) -> list[MemberGroup]:
    groups: dict[int, MemberGroup] = {}
    for line in lines:
        group = groups.setdefault(line.member_index, MemberGroup(
            index=line.member_index, name=line.member_name, email=line.member_email, lines=[], total=ZERO))
        if line.kind == LineKind.INCLUDED_USAGE:
            group.included_cost += line.included_cost or ZERO
        if line.amount == 0:
            group.folded.append(line)
        else:
            group.lines.append(line)
        if not line.informational:
            group.total += line.amount
    return list(groups.values())


def invoice_member_groups(*, invoice: Invoice, page_number, per_page: int = 100):
    """One page of the invoice's members in the document's (natural) order, each with their lines (seat fee,
    credits, included usage, then usage: one line per kind) and their billed total, plus the
    organization-level lines (not tied to a member) on every page. Three queries, whatever the number of
    members: members are numbered 1…N on the document (`member_index`), so a page is one indexed range."""
    member_count = InvoiceLine.objects.filter(invoice=invoice).aggregate(n=Max("member_index"))["n"] or 0
    page = Paginator(range(1, member_count + 1), per_page).get_page(page_number)
    indexes = page.object_list
    lines = (
        InvoiceLine.objects.filter(invoice=invoice, member_index__gte=indexes.start, member_index__lt=indexes.stop)
        .select_related("model").order_by("position")
        if indexes else InvoiceLine.objects.none()
    )
    organization_lines = list(
        InvoiceLine.objects.filter(invoice=invoice, membership__isnull=True).order_by("position")
    )
    return page, member_groups_of(lines), organization_lines


def invoice_kind_summary(*, invoice: Invoice) -> list[dict]:
    """Billed and informational amounts per line kind, for the summary at the top of the invoice."""
    rows = (
        InvoiceLine.objects.filter(invoice=invoice)
        .values("kind", "informational")
        .annotate(amount=Sum("amount"), lines=Count("id"))
        .order_by("kind", "informational")
    )
    labels = dict(LineKind.choices)
    summary = [{**row, "label": labels.get(row["kind"], row["kind"])} for row in rows]
    return sorted(summary, key=lambda row: (KIND_ORDER.get(row["kind"], 9), row["kind"]))


_TOKEN_SUMS = ("input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens", "event_count",
               "usage_cost", "included_cost", "billable")


@dataclass
class UsageSummary:
    """The invoice's usage by model and by product, EXACT (InvoiceUsageRow). Both breakdowns add up to
    `exact_total`, the exact sum of the member usage lines; those lines bill it rounded once per member
    (`in_member_lines`, the sum of their rounded amounts). The breakdown is included in the member lines and
    never billed or rounded again."""

    by_model: list[dict]
    by_product: list[dict]
    exact_total: Decimal
    in_member_lines: Decimal
    member_lines: int
    informational: bool  # Team: drawn from the prepaid balance, not billed

    @property
    def rounding_difference(self) -> Decimal:
        return self.in_member_lines - self.exact_total


def invoice_usage_summary(*, invoice: Invoice, kind_summary: list[dict] | None = None) -> UsageSummary:
    """The exact usage breakdowns and what they add up to (one query, given the page's `kind_summary`). An
    invoice issued before breakdowns were stored is summed from its usage lines (then one per member, model
    and product)."""
    sums = list(_TOKEN_SUMS)
    rows = list(InvoiceUsageRow.objects.filter(invoice=invoice).values("model__display_name", "product", *sums))
    if not rows:  # issued before breakdowns were stored: its usage lines were per member, model and product
        rows = list(InvoiceLine.objects.filter(invoice=invoice, model__isnull=False).annotate(
            billable=F("unrounded_amount")).values("model__display_name", "product", *sums))
    products = dict(Product.choices)

    def grouped(label_of) -> list[dict]:
        out: dict[str, dict] = {}
        for row in rows:
            label = label_of(row)
            acc = out.setdefault(label, {"label": label, **dict.fromkeys(sums, 0)})
            for name in sums:
                acc[name] += row[name] or 0
        return sorted(out.values(), key=lambda r: r["label"])

    by_model = grouped(lambda row: row["model__display_name"])
    by_product = grouped(lambda row: products.get(row["product"], row["product"]))
    usage_kinds = [row for row in (kind_summary if kind_summary is not None else invoice_kind_summary(
        invoice=invoice)) if row["kind"] in USAGE_KINDS]
    return UsageSummary(by_model=by_model, by_product=by_product,
                        exact_total=sum((row["billable"] or ZERO for row in rows), ZERO),
                        in_member_lines=sum((row["amount"] for row in usage_kinds), ZERO),
                        member_lines=sum(row["lines"] for row in usage_kinds),
                        informational=any(row["informational"] for row in usage_kinds))


def invoice_usage_rows_for_export(*, invoice: Invoice) -> QuerySet[InvoiceUsageRow]:
    return InvoiceUsageRow.objects.filter(invoice=invoice).select_related("model").order_by(
        "usage_period_start", "model__display_name", "product")


def invoice_lines_for_export(*, invoice: Invoice) -> QuerySet[InvoiceLine]:
    return InvoiceLine.objects.filter(invoice=invoice).select_related("model").order_by("position")


def owner_emails(*, organization: Organization) -> list[str]:
    return list(
        Membership.objects.filter(organization=organization, role__in=[Role.PRIMARY_OWNER, Role.OWNER])
        .values_list("user__email", flat=True).order_by("user__email")
    )


def invoice_billed_period(*, organization: Organization, period_start: dt.date,
                          membership_id: int | None = None) -> BilledPeriod | None:
    """For the dashboards (monitoring.totals.billed_period): what the period's live invoice billed for usage,
    as the sum of its member usage lines (each rounded once; one member's with `membership_id`), and exactly.
    Two queries; None before it is issued."""
    invoice = (Invoice.objects.filter(organization=organization, period_start=period_start)
               .exclude(status__in=[InvoiceStatus.VOID, InvoiceStatus.DRAFT]).only("number").first())
    if invoice is None:
        return None
    lines = InvoiceLine.objects.filter(invoice=invoice, kind__in=USAGE_KINDS)
    if membership_id is not None:
        lines = lines.filter(membership_id=membership_id)
    sums = lines.aggregate(
        billed=Sum("amount", default=ZERO), exact=Sum("unrounded_amount", default=ZERO), n=Count("id"))
    return BilledPeriod(
        number=invoice.number,
        url=reverse("invoicing:invoice_detail", kwargs={"slug": organization.slug, "number": invoice.number}),
        billed=sums["billed"], exact=sums["exact"], member_lines=sums["n"],
        prepaid=organization.plan_kind == PlanKind.TEAM,
    )


# --- The document: amount due, credit notes, payment ---------------------------------------------------------


def invoice_amount_due(*, invoice: Invoice) -> Decimal:
    """What is left to pay: the total less its credit notes, for an invoice awaiting payment; zero otherwise."""
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE):
        return ZERO
    credited = CreditNote.objects.filter(invoice=invoice).aggregate(total=Sum("total"))["total"] or ZERO
    return max(invoice.total - credited, ZERO)


def invoice_credit_notes(*, invoice: Invoice) -> list[CreditNote]:
    return list(CreditNote.objects.filter(invoice=invoice).defer("pdf").order_by("sequence"))


def credit_note_by_number(*, organization: Organization, number: str) -> CreditNote:
    """A credit note of this organization, or 404 (another organization's number is a 404)."""
    note = (CreditNote.objects.filter(organization=organization, number=number).defer("pdf")
            .select_related("invoice", "organization").first())
    if note is None:
        raise Http404
    return note


def credit_note_lines(*, credit_note: CreditNote) -> list[CreditNoteLine]:
    return list(CreditNoteLine.objects.filter(credit_note=credit_note).order_by("position", "id"))


def invoice_last_payment(*, invoice: Invoice) -> InvoicePayment | None:
    return InvoicePayment.objects.filter(invoice=invoice).order_by("-created_at", "-id").first()




@dataclass
class Document:
    """What the head and the totals of an invoice show, on the page, in the PDF and in the emails."""

    invoice: Invoice
    status: str  # includes the computed "overdue"
    credit_notes: list
    credited: Decimal
    amount_due: Decimal
    payable: bool  # open (or uncollectible) with something left to pay
    paid_amount: Decimal  # a paid invoice: its total less its credit notes
    paid_on: dt.date | None  # the local date it was paid


def invoice_document(*, invoice: Invoice, today: dt.date | None = None) -> Document:
    """The invoice's status on `today` (default: today in the billing time zone), its credit notes and what is
    left to pay. Two queries."""
    if today is None:
        today = local_date(timezone.now(), invoice.organization.billing_timezone)
    notes = invoice_credit_notes(invoice=invoice)
    credited = sum((note.total for note in notes), ZERO)
    awaiting = invoice.status in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
    due = max(invoice.total - credited, ZERO) if awaiting else ZERO
    tz = invoice.organization.billing_timezone
    return Document(invoice=invoice, status=invoice.status_on(today), credit_notes=notes, credited=credited,
                    amount_due=due, payable=awaiting and due > 0, paid_amount=max(invoice.total - credited, ZERO),
                    paid_on=local_date(invoice.paid_at, tz) if invoice.paid_at else None)
