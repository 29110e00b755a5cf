"""Late usage goes on the next invoice as a labelled adjustment (never lost, never billed twice); Team
invoices show prepaid purchases, auto-reloads and the extra usage drawn from the balance for information."""

import datetime as dt
from decimal import Decimal

import pytest

from apps.extra_usage.models import LedgerKind, PrepaidLedgerEntry
from apps.invoicing.models import LineKind
from apps.invoicing.services import invoice_issue_for_period
from apps.organizations.models import PlanKind
from apps.usage.models import UsageEvent
from tests.factories import OrganizationFactory, member

from .helpers import at, event

pytestmark = pytest.mark.django_db

OCT, NOV, DEC = dt.date(2026, 10, 1), dt.date(2026, 11, 1), dt.date(2026, 12, 1)


def _usage(invoice, kind):
    return [(line.member_email, line.description, line.unrounded_amount, line.amount)
            for line in invoice.lines.filter(kind=kind).order_by("position")]


def test_late_usage_lands_on_the_next_invoice_once():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    ann = member(org, email="ann@acme.example", since=at("UTC", 2026, 9, 1))

    def record(cost, occurred, received, period):
        UsageEvent.objects.bulk_create([event(ann, occurred_at=occurred, received_at=received, period_start=period,
                                              cost=Decimal(cost))])

    record("10.0000000001", at("UTC", 2026, 10, 30), at("UTC", 2026, 10, 30), OCT)
    record("1.25", at("UTC", 2026, 10, 31, 23, 59), at("UTC", 2026, 11, 1, 0, 5), OCT)  # before the cutoff
    october = invoice_issue_for_period(organization=org, period_start=OCT, now=at("UTC", 2026, 11, 1, 0, 20))
    assert october.usage_cutoff == at("UTC", 2026, 11, 1, 0, 15)
    assert _usage(october, LineKind.USAGE) == [
        ("ann@acme.example", "Usage at API rates", Decimal("11.2500000001"), Decimal("11.25"))
    ]

    # Reported after October was invoiced: an October event received on November 3 (and one for November).
    record("2.005", at("UTC", 2026, 10, 31, 22), at("UTC", 2026, 11, 3), OCT)
    record("4", at("UTC", 2026, 11, 10), at("UTC", 2026, 11, 10), NOV)
    november = invoice_issue_for_period(organization=org, period_start=NOV, now=at("UTC", 2026, 12, 1, 0, 20))
    assert november.usage_from == october.usage_cutoff
    assert _usage(november, LineKind.USAGE) == [
        ("ann@acme.example", "Usage at API rates", Decimal("4"), Decimal("4.00"))
    ]
    adjustment = november.lines.get(kind=LineKind.LATE_USAGE_ADJUSTMENT)
    assert adjustment.description == "Late usage adjustment for October 2026"
    late_row = november.usage_rows.get(usage_period_start=OCT)
    assert (late_row.model.alias, late_row.product, late_row.billable) == ("claude-sonnet-4-5", "chat",
                                                                          Decimal("2.005"))
    assert (adjustment.usage_period_start, adjustment.amount, adjustment.informational) == (OCT, Decimal("2.01"), False)
    assert november.total == Decimal("4.00") + Decimal("2.01") + sum(
        line.amount for line in november.lines.filter(kind=LineKind.SEAT_FEE)
    )

    december = invoice_issue_for_period(organization=org, period_start=DEC, now=at("UTC", 2027, 1, 1, 0, 20))
    assert not december.lines.filter(kind__in=[LineKind.USAGE, LineKind.LATE_USAGE_ADJUSTMENT]).exists()


def test_team_invoice_shows_prepaid_purchases_reloads_and_drawn_usage_without_billing_them():
    org = OrganizationFactory(plan_kind=PlanKind.TEAM)
    bob = member(org, email="bob@acme.example", tier_code="standard", since=at("UTC", 2026, 10, 1))
    UsageEvent.objects.bulk_create([
        # $25 of Bob's $30 included usage, then $7.50 of extra usage drawn from the prepaid balance.
        event(bob, occurred_at=at("UTC", 2026, 11, 4), period_start=NOV, cost=Decimal("25"), included=Decimal("25")),
        event(bob, occurred_at=at("UTC", 2026, 11, 20), period_start=NOV, cost=Decimal("7.5")),
    ])
    for kind, amount, day in ((LedgerKind.PURCHASE, "50.00", 2), (LedgerKind.AUTO_RELOAD, "20.00", 21)):
        PrepaidLedgerEntry.objects.create(organization=org, kind=kind, amount=Decimal(amount), period_start=NOV,
                                          created_at=at("UTC", 2026, 11, day, 10))
    PrepaidLedgerEntry.objects.create(organization=org, kind=LedgerKind.PURCHASE, amount=Decimal("99"),
                                      period_start=OCT, created_at=at("UTC", 2026, 10, 2))

    invoice = invoice_issue_for_period(organization=org, period_start=NOV, now=at("UTC", 2026, 12, 1, 0, 20))
    info = [(line.kind, line.description, line.amount) for line in invoice.lines.filter(informational=True)]
    assert info == [
        (LineKind.INCLUDED_USAGE, "Covered by included usage", Decimal("25.00")),
        (LineKind.PREPAID_USAGE_INFO, "Extra usage drawn from the prepaid balance", Decimal("7.50")),
        (LineKind.PREPAID_PURCHASE, "Prepaid extra usage purchased on Nov 2 (already paid)", Decimal("50.00")),
        (LineKind.AUTO_RELOAD, "Auto-reload of prepaid extra usage on Nov 21 (already paid)", Decimal("20.00")),
    ]
    usage_line = invoice.lines.get(kind=LineKind.PREPAID_USAGE_INFO)
    assert (usage_line.usage_cost, usage_line.included_cost) == (Decimal("32.5"), Decimal("25"))
    # Billed: the seat only.
    assert invoice.total == Decimal("30.00")
