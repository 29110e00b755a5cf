"""Every cent of usage on an invoice is traceable to events: the unrounded usage lines add up to the events'
costs exactly, each line is within half a cent of its unrounded value, and the total is the sum of the
rounded lines."""

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.db.models import F, Sum

from apps.invoicing.models import InvoiceLine, LineKind
from apps.invoicing.services import invoice_issue_for_period
from apps.organizations.models import PlanKind
from apps.usage.models import UsageEvent
from tests.factories import OrganizationFactory, member

from .helpers import at, random_events

pytestmark = pytest.mark.django_db

OCT = dt.date(2026, 10, 1)
HALF_CENT = Decimal("0.005")


def _month_of_usage(plan_kind, *, tz="America/Chicago", included_share=False):
    rng = random.Random(20261001)
    org = OrganizationFactory(plan_kind=plan_kind, billing_timezone=tz)
    members = [member(org, since=at(tz, 2026, 9, 15)) for _ in range(25)]
    random_events(members, period_start=OCT, starts_at=at(tz, 2026, 10, 1), count=4000, rng=rng,
                  included_share=included_share)
    # Neighbouring months must not leak into October's invoice.
    random_events(members, period_start=dt.date(2026, 9, 1), starts_at=at(tz, 2026, 9, 2), count=200, rng=rng,
                  included_share=included_share)
    random_events(members, period_start=dt.date(2026, 11, 1), starts_at=at(tz, 2026, 11, 1), count=200, rng=rng,
                  included_share=included_share)
    invoice = invoice_issue_for_period(organization=org, period_start=OCT, now=at(tz, 2026, 11, 1, 0, 20))
    return org, invoice


def _assert_rounding(invoice):
    lines = list(invoice.lines.all())
    for line in lines:
        assert abs(line.amount - line.unrounded_amount) <= HALF_CENT, line.description
        assert line.amount == line.unrounded_amount.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    assert invoice.total == sum(line.amount for line in lines if not line.informational)
    assert invoice.total == invoice.subtotal


def test_usage_based_lines_add_up_to_the_event_costs_exactly():
    org, invoice = _month_of_usage(PlanKind.ENTERPRISE_USAGE)
    usage = InvoiceLine.objects.filter(invoice=invoice, kind=LineKind.USAGE)
    events = UsageEvent.objects.filter(organization=org, period_start=OCT)

    assert usage.aggregate(s=Sum("unrounded_amount"))["s"] == events.aggregate(s=Sum("cost"))["s"]
    assert usage.aggregate(n=Sum("event_count"))["n"] == 4000
    # One line per member (rounded once), with the tokens of each kind; the breakdown by model and product
    # (exact) sums the same events.
    assert usage.count() == events.values("membership").distinct().count() == 25
    rows = invoice.usage_rows.all()
    assert rows.count() == events.values("model", "product").distinct().count()
    assert rows.aggregate(s=Sum("billable"))["s"] == usage.aggregate(s=Sum("unrounded_amount"))["s"]
    for field in ("input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens"):
        assert usage.aggregate(s=Sum(field))["s"] == events.aggregate(s=Sum(field))["s"]
        assert rows.aggregate(s=Sum(field))["s"] == events.aggregate(s=Sum(field))["s"]
    _assert_rounding(invoice)


def test_seat_based_enterprise_bills_only_the_extra_usage_exactly():
    org, invoice = _month_of_usage(PlanKind.ENTERPRISE_SEAT, included_share=True)
    usage = InvoiceLine.objects.filter(invoice=invoice, kind=LineKind.USAGE)
    events = UsageEvent.objects.filter(organization=org, period_start=OCT)

    extra = events.aggregate(s=Sum(F("cost") - F("included_cost")))["s"]
    assert extra < events.aggregate(s=Sum("cost"))["s"]
    assert usage.aggregate(s=Sum("unrounded_amount"))["s"] == extra
    fully_included = InvoiceLine.objects.filter(invoice=invoice, kind=LineKind.INCLUDED_USAGE).exclude(
        membership__in=usage.values("membership"))
    assert usage.aggregate(s=Sum("usage_cost"))["s"] + fully_included.aggregate(
        s=Sum("included_cost", default=0))["s"] == events.aggregate(s=Sum("cost"))["s"]
    _assert_rounding(invoice)


def test_total_is_the_sum_of_rounded_lines_not_the_rounded_sum():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    members = [member(org, since=at("UTC", 2026, 9, 1)) for _ in range(3)]
    from .helpers import event

    # Each member spends $0.005 exactly: each line rounds half up to $0.01, the exact sum would be $0.015.
    UsageEvent.objects.bulk_create([
        event(m, occurred_at=at("UTC", 2026, 10, 5), period_start=OCT, cost=Decimal("0.005")) for m in members
    ])
    invoice = invoice_issue_for_period(organization=org, period_start=OCT, now=at("UTC", 2026, 11, 1, 0, 20))
    usage = list(invoice.lines.filter(kind=LineKind.USAGE))
    assert [line.amount for line in usage] == [Decimal("0.01")] * 3
    seat_fees = sum(line.amount for line in invoice.lines.exclude(kind=LineKind.USAGE))
    assert invoice.total == seat_fees + Decimal("0.03")
