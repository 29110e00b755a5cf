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

Usage, per member and per model, with token counts by kind, from the usage ledger:
- usage-based Enterprise bills all usage (cost);
- seat-based Enterprise bills extra usage only (cost − included_cost), showing included usage on the line;
- Team's extra usage was drawn from the prepaid balance: shown for information, not billed; the period's
  prepaid purchases and auto-reloads (already paid) are shown for information too.

Late usage. An invoice covers the events received before its usage cutoff. Events of an earlier, already
invoiced period received after that invoice's cutoff are billed on the next invoice as "Late usage adjustment
for <period>" lines: its window is [previous invoice's cutoff, this cutoff). No event is lost or billed twice.

Rounding. Each line keeps its unrounded amount (1e-10 dollars) and is rounded to cents half up
(apps.common.money.round_to_cents); the total is the sum of the rounded billed lines, exactly.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.paginator import Paginator
from django.db.models import Count, Max, QuerySet, Sum
from django.http import Http404

from apps.common.money import MONEY_PLACES, ZERO, round_to_cents
from apps.common.periods import Period, local_date
from apps.extra_usage.models import LedgerKind, PrepaidLedgerEntry
from apps.organizations.models import Membership, Organization, PlanKind, Role
from apps.seats.defaults import HIPAA_FEE_PER_SEAT
from apps.seats.models import SeatCharge
from apps.seats.selectors import seat_history
from apps.usage.models import AIModel, UsageEvent

from .models import Invoice, InvoiceLine, InvoiceStatus, LineKind

FULL_PRECISION = Decimal(1).scaleb(-MONEY_PLACES)
# The order of a member's lines on the document.
KIND_ORDER = {
    LineKind.SEAT_FEE: 0,
    LineKind.HIPAA: 1,
    LineKind.SEAT_UPGRADE_CHARGE: 2,
    LineKind.USAGE: 3,
    LineKind.PREPAID_USAGE_INFO: 3,
    LineKind.LATE_USAGE_ADJUSTMENT: 4,
    LineKind.PREPAID_PURCHASE: 5,
    LineKind.AUTO_RELOAD: 5,
}


def _exact(amount: Decimal) -> Decimal:
    """The stored full-precision amount (1e-10 dollars); the rounded amount is derived from it."""
    return amount.quantize(FULL_PRECISION, rounding=ROUND_HALF_UP)


def _line(**kwargs) -> InvoiceLine:
    unrounded = _exact(kwargs.pop("unrounded_amount"))
    return InvoiceLine(unrounded_amount=unrounded, amount=round_to_cents(unrounded), **kwargs)


def month_label(day: dt.date) -> str:
    return day.strftime("%B %Y")


def _day_ranges(days: list[tuple[dt.date, dt.date]]) -> str:
    """'Nov 1–11, Nov 20–30' for local [start, end) ranges."""
    parts = []
    for start, end in days:
        last = end - dt.timedelta(days=1)
        parts.append(f"{start:%b} {start.day}" + (f"–{last.day}" if last != start else ""))
    return ", ".join(parts)


@dataclass
class _SeatDays:
    tier: object
    days: int = 0
    ranges: list = field(default_factory=list)


def _seat_lines(*, organization: Organization, period: Period, members: dict[int, Membership]) -> list[InvoiceLine]:
    tz_name = organization.billing_timezone
    held: dict[tuple[int, int], _SeatDays] = {}
    member_days: dict[int, int] = defaultdict(int)
    for interval in seat_history(organization=organization, starts_at=period.starts_at, ends_at=period.ends_at):
        members.setdefault(interval.membership_id, interval.membership)
        first = max(local_date(interval.started_at, tz_name), period.start)
        end = period.end if interval.ended_at is None else min(local_date(interval.ended_at, tz_name), period.end)
        if end <= first:
            continue  # held for part of a day that counts for a later tier (or not at all)
        entry = held.setdefault((interval.membership_id, interval.tier_id), _SeatDays(tier=interval.tier))
        entry.days += (end - first).days
        entry.ranges.append((first, end))
        member_days[interval.membership_id] += (end - first).days

    lines = []
    for (membership_id, _), entry in held.items():
        fee = entry.tier.monthly_fee.amount
        lines.append(_line(
            kind=LineKind.SEAT_FEE, membership_id=membership_id,
            description=f"{entry.tier.get_code_display()} seat, {_day_ranges(entry.ranges)} "
                        f"({entry.days} of {period.days} days)",
            days=entry.days, period_days=period.days, unit_price=fee,
            unrounded_amount=fee * entry.days / period.days,
        ))
    if organization.plan_kind == PlanKind.ENTERPRISE_USAGE and organization.hipaa_ready:
        for membership_id, days in member_days.items():
            lines.append(_line(
                kind=LineKind.HIPAA, membership_id=membership_id,
                description=f"HIPAA-ready add-on ({days} of {period.days} days)",
                days=days, period_days=period.days, unit_price=HIPAA_FEE_PER_SEAT,
                unrounded_amount=HIPAA_FEE_PER_SEAT * days / period.days,
            ))
    return lines


def _upgrade_credit_lines(*, organization: Organization, period: Period,
                          members: dict[int, Membership]) -> list[InvoiceLine]:
    lines = []
    charges = (
        SeatCharge.objects.filter(organization=organization, period_start=period.start)
        .select_related("from_tier", "to_tier", "membership__user")
        .order_by("created_at", "id")
    )
    for charge in charges:
        members.setdefault(charge.membership_id, charge.membership)
        day = local_date(charge.created_at, organization.billing_timezone)
        lines.append(_line(
            kind=LineKind.SEAT_UPGRADE_CHARGE, membership_id=charge.membership_id,
            description=f"{charge.from_tier.get_code_display()} → {charge.to_tier.get_code_display()} upgrade on "
                        f"{day:%b} {day.day}, already charged ({charge.remaining_days} of "
                        f"{charge.period_days} days)",
            days=charge.remaining_days, period_days=charge.period_days,
            unrounded_amount=-charge.amount.amount,
        ))
    return lines


_USAGE_SUMS = {
    "cost_sum": Sum("cost"),
    "included_sum": Sum("included_cost"),
    "input_sum": Sum("input_tokens"),
    "output_sum": Sum("output_tokens"),
    "cache_write_sum": Sum("cache_write_tokens"),
    "cache_read_sum": Sum("cache_read_tokens"),
    "events": Count("id"),
}


def usage_events_in_window(*, organization: Organization, period: Period, usage_from: dt.datetime | None,
                           usage_cutoff: dt.datetime) -> tuple[QuerySet, QuerySet]:
    """The events an invoice covers: (the period's own events received before the cutoff, late events of
    earlier periods received in [usage_from, cutoff)). No late window on an organization's first invoice."""
    events = UsageEvent.objects.filter(organization=organization)
    current = events.filter(period_start=period.start, received_at__lt=usage_cutoff)
    if usage_from is None:
        late = events.none()
    else:
        late = events.filter(period_start__lt=period.start, received_at__gte=usage_from,
                             received_at__lt=usage_cutoff)
    return current, late


def _usage_lines(*, organization: Organization, period: Period, usage_from, usage_cutoff,
                 models: dict[int, AIModel]) -> list[InvoiceLine]:
    current, late = usage_events_in_window(
        organization=organization, period=period, usage_from=usage_from, usage_cutoff=usage_cutoff
    )
    team = organization.plan_kind == PlanKind.TEAM
    bills_all = organization.plan_kind == PlanKind.ENTERPRISE_USAGE
    rows = [(row, None) for row in current.values("membership_id", "model_id").annotate(**_USAGE_SUMS).order_by()]
    rows += [
        (row, row["period_start"])
        for row in late.values("membership_id", "model_id", "period_start").annotate(**_USAGE_SUMS).order_by()
    ]
    lines = []
    for row, late_period in rows:
        cost, included = row["cost_sum"], row["included_sum"]
        billed = cost if bills_all else cost - included
        model = models[row["model_id"]]
        if late_period is not None:
            kind = LineKind.LATE_USAGE_ADJUSTMENT
            description = f"Late usage adjustment for {month_label(late_period)}: {model.display_name}"
        elif team:
            kind = LineKind.PREPAID_USAGE_INFO
            description = f"{model.display_name}: extra usage drawn from the prepaid balance"
        else:
            kind = LineKind.USAGE
            description = model.display_name if bills_all else f"{model.display_name}: extra usage"
        if team and late_period is not None:
            description += " (drawn from the prepaid balance)"
        lines.append(_line(
            kind=kind, membership_id=row["membership_id"], model_id=row["model_id"],
            usage_period_start=late_period, description=description,
            input_tokens=row["input_sum"], output_tokens=row["output_sum"],
            cache_write_tokens=row["cache_write_sum"], cache_read_tokens=row["cache_read_sum"],
            event_count=row["events"], usage_cost=cost, included_cost=None if bills_all else included,
            unrounded_amount=billed, informational=team,
        ))
    return lines


def _prepaid_lines(*, organization: Organization, period: Period) -> list[InvoiceLine]:
    if organization.plan_kind != PlanKind.TEAM:
        return []
    entries = PrepaidLedgerEntry.objects.filter(
        organization=organization, period_start=period.start, kind__in=[LedgerKind.PURCHASE, LedgerKind.AUTO_RELOAD]
    ).order_by("created_at", "id")
    lines = []
    for entry in entries:
        day = local_date(entry.created_at, organization.billing_timezone)
        reload = entry.kind == LedgerKind.AUTO_RELOAD
        what = "Auto-reload of prepaid extra usage" if reload else "Prepaid extra usage purchased"
        lines.append(_line(
            kind=LineKind.AUTO_RELOAD if reload else LineKind.PREPAID_PURCHASE,
            description=f"{what} on {day:%b} {day.day} (already paid)",
            unrounded_amount=entry.amount, informational=True,
        ))
    return lines


def invoice_lines_compute(*, organization: Organization, period: Period, usage_from: dt.datetime | None,
                          usage_cutoff: dt.datetime) -> list[InvoiceLine]:
    """The lines of an organization's invoice for a period (unsaved, in document order), by the rules in
    this module's docstring. A fixed number of queries, whatever the number of members: usage is aggregated
    in SQL (GROUP BY member, model) and the seat history is read in one query."""
    members: dict[int, Membership] = {}
    models = {m.pk: m for m in AIModel.objects.all()}
    lines = _seat_lines(organization=organization, period=period, members=members)
    lines += _upgrade_credit_lines(organization=organization, period=period, members=members)
    lines += _usage_lines(organization=organization, period=period, usage_from=usage_from,
                          usage_cutoff=usage_cutoff, models=models)
    missing = {line.membership_id for line in lines if line.membership_id not in members}
    if missing:
        members.update(Membership.objects.select_related("user").in_bulk(missing))
    for line in lines:
        line.member_email = members[line.membership_id].user.email

    def order(line: InvoiceLine):
        model = models.get(line.model_id)
        return (line.member_email, KIND_ORDER[line.kind], line.usage_period_start or dt.date.min,
                model.display_name if model else "", line.description)

    lines.sort(key=order)
    lines += _prepaid_lines(organization=organization, period=period)
    for position, line in enumerate(lines):
        line.position = position
    return lines


def invoice_totals(lines: list[InvoiceLine]) -> Decimal:
    """The total: the sum of the rounded amounts of the billed (not informational) lines, exactly."""
    return sum((line.amount for line in lines if not line.informational), ZERO)


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
    email: str
    lines: list
    total: Decimal


def invoice_member_groups(*, invoice: Invoice, page_number, per_page: int = 100):
    """One page of the invoice's members, each with their lines (seat, usage by model, adjustments) and their
    billed total, plus the organization-level lines (not tied to a member) on every page. Three queries."""
    emails = (
        InvoiceLine.objects.filter(invoice=invoice, membership__isnull=False)
        .values_list("member_email", flat=True).distinct().order_by("member_email")
    )
    page = Paginator(emails, per_page).get_page(page_number)
    lines = InvoiceLine.objects.filter(invoice=invoice, member_email__in=list(page.object_list)).select_related(
        "model"
    ).order_by("position")
    groups: dict[str, MemberGroup] = {}
    for line in lines:
        group = groups.setdefault(line.member_email, MemberGroup(email=line.member_email, lines=[], total=ZERO))
        group.lines.append(line)
        if not line.informational:
            group.total += line.amount
    organization_lines = list(
        InvoiceLine.objects.filter(invoice=invoice, membership__isnull=True).order_by("position")
    )
    return page, list(groups.values()), organization_lines


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


def invoice_lines_for_export(*, invoice: Invoice) -> QuerySet[InvoiceLine]:
    return InvoiceLine.objects.filter(invoice=invoice).select_related("model").order_by("position")


def owner_emails(*, organization: Organization) -> list[str]:
    return list(
        Membership.objects.filter(organization=organization, role__in=[Role.PRIMARY_OWNER, Role.OWNER])
        .values_list("user__email", flat=True).order_by("user__email")
    )
