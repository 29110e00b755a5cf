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

Usage, per member, per model and per product, with token counts by kind, from the usage ledger:
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
import re
from collections import defaultdict
from dataclasses import dataclass, field, fields
from decimal import ROUND_HALF_UP, Decimal

from babel.dates import format_date, format_interval
from django.core.paginator import Paginator
from django.db.models import Count, Max, QuerySet, Sum
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.common.money import MONEY_PLACES, ZERO, babel_locale, round_to_cents
from apps.common.periods import Period, local_date
from apps.extra_usage.models import LedgerKind, PrepaidLedgerEntry
from apps.organizations.models import Membership, Organization, PlanKind, Role
from apps.seats.defaults import HIPAA_FEE_PER_SEAT
from apps.seats.models import Product, SeatCharge, SeatTier, TierCode
from apps.seats.selectors import seat_history
from apps.usage.models import AIModel, UsageEvent

from .models import CreditNote, CreditNoteLine, Invoice, InvoiceLine, InvoicePayment, InvoiceStatus, LineKind

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


LINE_COLUMNS = [f.name for f in fields(LineData)]


def _line(**kwargs) -> LineData:
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

    lines = []
    for (membership_id, tier_id), entry in held.items():
        tier = tiers[tier_id]
        fee = tier.monthly_fee.amount
        lines.append(_line(
            kind=LineKind.SEAT_FEE, membership_id=membership_id,
            description=_("%(tier)s seat, %(ranges)s (%(days)s of %(period_days)s days)") % {
                "tier": tier.get_code_display(), "ranges": _day_ranges(entry.ranges), "days": entry.days,
                "period_days": period.days},
            days=entry.days, period_days=period.days, unit_price=fee,
            unrounded_amount=fee * entry.days / period.days,
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
    labels = dict(TierCode.choices)
    lines = []
    charges = (
        SeatCharge.objects.filter(organization=organization, period_start=period.start)
        .order_by("created_at", "id")
        .values_list("membership_id", "membership__user__email", "from_tier__code", "to_tier__code", "created_at",
                     "amount", "remaining_days", "period_days")
    )
    for membership_id, email, from_code, to_code, created_at, amount, remaining, period_days in charges:
        emails[membership_id] = email
        day = created_at.astimezone(period.tz).date()
        lines.append(_line(
            kind=LineKind.SEAT_UPGRADE_CHARGE, membership_id=membership_id,
            description=_("%(old)s → %(new)s upgrade on %(day)s, already charged (%(days)s of %(period_days)s "
                          "days)") % {"old": labels[from_code], "new": labels[to_code], "day": _day(day),
                                      "days": remaining, "period_days": period_days},
            days=remaining, period_days=period_days, unrounded_amount=-amount,
        ))
    return lines


_USAGE_SUMS = {
    "cost_sum": Sum("cost"),
    "input_sum": Sum("input_tokens"),
    "output_sum": Sum("output_tokens"),
    "cache_write_sum": Sum("cache_write_tokens"),
    "cache_read_sum": Sum("cache_read_tokens"),
    "events": Count("*"),
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
                 models: dict[int, AIModel]) -> list[LineData]:
    current, late = usage_events_in_window(
        organization=organization, period=period, usage_from=usage_from, usage_cutoff=usage_cutoff
    )
    team = organization.plan_kind == PlanKind.TEAM
    bills_all = organization.plan_kind == PlanKind.ENTERPRISE_USAGE
    # Usage-based Enterprise has no included usage: one numeric sum fewer over the month's events.
    sums = _USAGE_SUMS if bills_all else {**_USAGE_SUMS, "included_sum": Sum("included_cost")}
    rows = [
        (row, None) for row in current.values("membership_id", "model_id", "product").annotate(**sums).order_by()
    ]
    rows += [
        (row, row["period_start"])
        for row in late.values("membership_id", "model_id", "product", "period_start").annotate(**sums).order_by()
    ]
    products = dict(Product.choices)
    lines = []
    for row, late_period in rows:
        cost, included = row["cost_sum"], row.get("included_sum", ZERO)
        billed = cost if bills_all else cost - included
        model = models[row["model_id"]]
        name = f"{model.display_name} · {products.get(row['product'], row['product'])}"
        if late_period is not None:
            kind = LineKind.LATE_USAGE_ADJUSTMENT
            description = _("Late usage adjustment for %(month)s: %(name)s") % {
                "month": month_label(late_period), "name": name}
        elif team:
            kind = LineKind.PREPAID_USAGE_INFO
            description = _("%(name)s: extra usage drawn from the prepaid balance") % {"name": name}
        else:
            kind = LineKind.USAGE
            description = name if bills_all else _("%(name)s: extra usage") % {"name": name}
        if team and late_period is not None:
            description += _(" (drawn from the prepaid balance)")
        lines.append(_line(
            kind=kind, membership_id=row["membership_id"], model_id=row["model_id"], product=row["product"],
            usage_period_start=late_period, description=description,
            input_tokens=row["input_sum"], output_tokens=row["output_sum"],
            cache_write_tokens=row["cache_write_sum"], cache_read_tokens=row["cache_read_sum"],
            event_count=row["events"], usage_cost=cost, included_cost=None if bills_all else included,
            unrounded_amount=billed, informational=team,
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
            unrounded_amount=amount, informational=True,
        ))
    return lines


def invoice_lines_compute(*, organization: Organization, period: Period, usage_from: dt.datetime | None,
                          usage_cutoff: dt.datetime) -> list[LineData]:
    """The lines of an organization's invoice for a period (unsaved, in document order), by the rules in
    this module's docstring. A fixed number of queries, whatever the number of members: usage is aggregated
    in SQL (GROUP BY member, model, product) and the seat history is read in one query. Members are numbered
    in natural order of name, then email (`member_index`), and their lines follow that order."""
    emails: dict[int, str] = {}
    models = {m.pk: m for m in AIModel.objects.all()}
    lines = _seat_lines(organization=organization, period=period, emails=emails)
    lines += _upgrade_credit_lines(organization=organization, period=period, emails=emails)
    lines += _usage_lines(organization=organization, period=period, usage_from=usage_from,
                          usage_cutoff=usage_cutoff, models=models)
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

    def order(line: LineData):
        model = models.get(line.model_id)
        return (line.member_index, KIND_ORDER[line.kind],
                line.usage_period_start or dt.date.min, model.display_name if model else "", line.product,
                line.description)

    lines.sort(key=order)
    lines += _prepaid_lines(organization=organization, period=period)
    for position, line in enumerate(lines):
        line.position = position
    return lines


def invoice_totals(lines: list[LineData]) -> Decimal:
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
    index: int
    name: str
    email: str
    lines: list
    total: Decimal


def invoice_member_groups(*, invoice: Invoice, page_number, per_page: int = 100):
    """One page of the invoice's members in the document's (natural) order, each with their lines (seats,
    credits, then usage by model and product) and their billed total, plus the organization-level lines (not
    tied to a member) on every page. Three queries, whatever the number of members: members are numbered
    1…N on the document (`member_index`), so a page is one indexed range."""
    member_count = InvoiceLine.objects.filter(invoice=invoice).aggregate(n=Max("member_index"))["n"] or 0
    page = Paginator(range(1, member_count + 1), per_page).get_page(page_number)
    indexes = page.object_list
    lines = (
        InvoiceLine.objects.filter(invoice=invoice, member_index__gte=indexes.start, member_index__lt=indexes.stop)
        .select_related("model").order_by("position")
        if indexes else InvoiceLine.objects.none()
    )
    groups: dict[int, MemberGroup] = {}
    for line in lines:
        group = groups.setdefault(line.member_index, MemberGroup(
            index=line.member_index, name=line.member_name, email=line.member_email, lines=[], total=ZERO))
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


_TOKEN_SUMS = {
    "input_tokens": Sum("input_tokens"), "output_tokens": Sum("output_tokens"),
    "cache_write_tokens": Sum("cache_write_tokens"), "cache_read_tokens": Sum("cache_read_tokens"),
    "usage_cost": Sum("usage_cost"), "amount": Sum("amount"), "lines": Count("id"),
}


def invoice_usage_summary(*, invoice: Invoice) -> dict[str, list[dict]]:
    """The usage lines summed by model and by product: tokens by kind, usage at API rates, and the amount
    (billed and informational apart, so a Team invoice's prepaid draws never look billed). Two queries."""
    usage = InvoiceLine.objects.filter(invoice=invoice, model__isnull=False)
    by_model = [
        {**row, "label": row.pop("model__display_name")}
        for row in usage.values("model__display_name", "informational").annotate(**_TOKEN_SUMS)
        .order_by("model__display_name", "informational")
    ]
    products = dict(Product.choices)
    by_product = [
        {**row, "label": products.get(row["product"], row["product"])}
        for row in usage.values("product", "informational").annotate(**_TOKEN_SUMS).order_by("product", "informational")
    ]
    return {"by_model": by_model, "by_product": by_product}


def invoice_lines_for_export(*, invoice: Invoice) -> QuerySet[InvoiceLine]:
    return InvoiceLine.objects.filter(invoice=invoice).select_related("model").order_by("position")


def owner_emails(*, organization: Organization) -> list[str]:
    return list(
        Membership.objects.filter(organization=organization, role__in=[Role.PRIMARY_OWNER, Role.OWNER])
        .values_list("user__email", flat=True).order_by("user__email")
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
