"""The one rounding rule (apps/common/money.py, docs/billing.md "Rounding"), held on randomized ledgers for every
closed period of every plan, across every surface that shows the money: the invoice (lines, breakdown, CSV),
the dashboards, the Usage and Cost Analytics API and the prepaid ledger.

Each example builds an organization of 1–5 members on a random plan, records a random ledger through the machine
API's own recording service (so counters, rollups, funding and prepaid draws are what real traffic makes) over
October and November 2026, some October events arriving after October was invoiced, and issues both months'
invoices as the monthly run would. Then, for each closed period:

- a member's invoice amount of each kind equals their exact spend of that kind, rounded once;
- the invoice's usage total is the sum of its member lines and differs from the exact sum of the events by at most
  half a cent per member line; the exact breakdown by model and product adds up to the member lines exactly;
- the analytics API's cost for the period equals the exact sum of the events (Enterprise: the Admin API's plans);
- the prepaid ledger's draws for a month equal the invoice's "drawn from the prepaid balance" lines (Team);
- the organization total equals the sum of its members on the dashboards (overview and members), to the cent,
  by the same rounding, with the exact total beside it; a closed month shows the billed figure and the number;
- the CSV says what the invoice says.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import uuid
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from apps.admin_api.models import AdminScope
from apps.admin_api.services import admin_api_key_create
from apps.common.money import round_to_cents
from apps.common.periods import period_for_start
from apps.extra_usage.models import LedgerKind, PrepaidLedgerEntry
from apps.invoicing.exports import invoice_csv_rows
from apps.invoicing.models import LineKind
from apps.invoicing.selectors import USAGE_KINDS, invoice_usage_summary
from apps.invoicing.services import invoice_issue_for_period
from apps.monitoring.ranges import DateRange
from apps.monitoring.selectors import member_table
from apps.monitoring.totals import billed_period, dashboard_totals
from apps.organizations.models import PlanKind, Role
from apps.spending.services import UsageInput, usage_record_batch
from apps.usage.models import UsageEvent
from apps.usage.pricing import Tokens
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db

OCT, NOV, DEC = dt.date(2026, 10, 1), dt.date(2026, 11, 1), dt.date(2026, 12, 1)
MODELS = ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-5")
PRODUCTS = ("chat", "cowork")  # every tier of every plan has these
TIERS = {PlanKind.TEAM: ("standard", "premium"), PlanKind.ENTERPRISE_SEAT: ("standard", "premium"),
         PlanKind.ENTERPRISE_USAGE: ("chat", "chat_code")}
HALF_CENT = Decimal("0.005")
_keys = itertools.count()

event_strategy = st.tuples(
    st.integers(0, 4),  # member (modulo the member count)
    st.sampled_from(MODELS), st.sampled_from(PRODUCTS),
    st.integers(0, 400_000), st.integers(0, 40_000), st.integers(0, 90_000),  # input, output, cache read
    st.sampled_from(["oct", "oct", "oct_late", "nov", "nov"]),
    st.integers(1, 28),  # day of the month
)
ledger_strategy = st.fixed_dictionaries({
    "plan": st.sampled_from(list(TIERS)),
    "members": st.integers(1, 5),
    "events": st.lists(event_strategy, min_size=1, max_size=40),
})


def _utc(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def _record(org, items, now):
    for start in range(0, len(items), 100):
        outcomes = usage_record_batch(organization=org, items=items[start:start + 100], now=now)
        assert {o.status for o in outcomes} <= {"created"}, outcomes


def _build(ledger):
    org = OrganizationFactory(plan_kind=ledger["plan"], billing_timezone="UTC",
                              slug=f"prop-{uuid.uuid4().hex[:10]}")
    tiers = TIERS[ledger["plan"]]
    people = [member(org, role=Role.PRIMARY_OWNER if n == 0 else Role.MEMBER, tier_code=tiers[n % 2],
                     since=_utc(dt.date(2026, 9, 1))) for n in range(ledger["members"])]
    batches = defaultdict(list)
    for who, model, product, tokens_in, tokens_out, cache_read, when, day in ledger["events"]:
        month = OCT if when.startswith("oct") else NOV
        batches[when].append(UsageInput(
            idempotency_key=f"prop-{next(_keys)}", member=people[who % len(people)].user.email, product=product,
            model=model, tokens=Tokens(input=tokens_in, output=tokens_out, cache_read=cache_read),
            occurred_at=_utc(month.replace(day=day), hour=day % 24)))
    _record(org, batches["oct"], now=_utc(dt.date(2026, 10, 31), 23))
    october = invoice_issue_for_period(organization=org, period_start=OCT, now=_utc(NOV, 0).replace(minute=20))
    # Reported after October was invoiced: late October events go on November's invoice.
    _record(org, batches["oct_late"] + batches["nov"], now=_utc(dt.date(2026, 11, 30), 23))
    november = invoice_issue_for_period(organization=org, period_start=NOV, now=_utc(DEC, 0).replace(minute=20))
    return org, people, {OCT: october, NOV: november}


def _billable(org, cost, included):
    return cost if org.plan_kind == PlanKind.ENTERPRISE_USAGE else cost - included


def _exact_by_member(org, invoice):
    """(membership, late period or None) → [cost, included] of the events the invoice covers, from the ledger."""
    sums = defaultdict(lambda: [Decimal(0), Decimal(0)])
    events = UsageEvent.objects.filter(organization=org, received_at__lt=invoice.usage_cutoff)
    own = events.filter(period_start=invoice.period_start)
    late = (events.filter(period_start__lt=invoice.period_start, received_at__gte=invoice.usage_from)
            if invoice.usage_from else events.none())
    for queryset, is_late in ((own, False), (late, True)):
        for row in queryset.values("membership_id", "period_start").annotate(c=Sum("cost"), i=Sum("included_cost")):
            key = (row["membership_id"], row["period_start"] if is_late else None)
            sums[key][0] += row["c"]
            sums[key][1] += row["i"]
    return sums


def _assert_invoice(org, invoice):
    lines = list(invoice.lines.all())
    usage_lines = [line for line in lines if line.kind in USAGE_KINDS]
    exact = _exact_by_member(org, invoice)
    # A member's amount of each kind is their exact spend of that kind, rounded once.
    expected = {}
    for (membership_id, late), (cost, included) in exact.items():
        billable = _billable(org, cost, included)
        if billable:
            expected[(membership_id, late)] = billable
    got = {(line.membership_id, line.usage_period_start): line for line in usage_lines}
    assert set(got) == set(expected)
    for key, line in got.items():
        assert line.unrounded_amount == expected[key]
        assert line.amount == round_to_cents(expected[key])
    if org.plan_kind != PlanKind.ENTERPRISE_USAGE:
        included = {line.membership_id: line for line in lines if line.kind == LineKind.INCLUDED_USAGE}
        for (membership_id, late), (_, inc) in exact.items():
            if late is None and inc:
                assert included[membership_id].amount == round_to_cents(inc)
    # The usage total is the sum of the member lines, within half a cent per line of the events' exact sum.
    summary = invoice_usage_summary(invoice=invoice)
    exact_events = sum(expected.values(), Decimal(0))
    assert summary.in_member_lines == sum(line.amount for line in usage_lines)
    assert summary.exact_total == exact_events
    assert abs(summary.in_member_lines - exact_events) <= HALF_CENT * len(usage_lines)
    # Nothing is rounded twice: the total is the sum of the rounded billed lines.
    assert invoice.total == sum(line.amount for line in lines if not line.informational)
    # The breakdown by model and product is exact and adds up to the member lines.
    rows = list(invoice.usage_rows.all())
    assert sum((row.billable for row in rows), Decimal(0)) == exact_events
    # The CSV says the same, line for line.
    csv_rows = list(csv.DictReader(io.StringIO("".join(invoice_csv_rows(invoice=invoice)))))
    csv_lines = [r for r in csv_rows if r["kind"] in {k.value for k in USAGE_KINDS}]
    assert sorted((Decimal(r["unrounded_amount"]), Decimal(r["amount"])) for r in csv_lines) == sorted(
        (line.unrounded_amount, line.amount) for line in usage_lines)
    assert Decimal(next(r for r in csv_rows if r["kind"] == "total")["amount"]) == invoice.total
    # A closed month on the dashboards shows this billed figure, with the invoice number.
    billed = billed_period(organization=org, period_start=invoice.period_start)
    assert (billed.number, billed.billed, billed.exact) == (invoice.number, summary.in_member_lines, exact_events)
    return usage_lines


def _assert_dashboards(org, people, period_start):
    period = period_for_start(period_start, "UTC")
    events = UsageEvent.objects.filter(organization=org, period_start=period_start)
    per_member = {row["membership_id"]: (row["c"], row["i"]) for row in
                  events.values("membership_id").annotate(c=Sum("cost"), i=Sum("included_cost"))}
    exact = sum((c for c, _ in per_member.values()), Decimal(0))
    totals, billed = dashboard_totals(organization=org, start=period.start, end=period.end,
                                      current_period_start=dt.date(2027, 1, 1))
    assert totals.spend_exact == exact
    assert totals.spend == sum((round_to_cents(c) for c, _ in per_member.values()), Decimal(0))
    assert totals.extra == sum((round_to_cents(c - i) for c, i in per_member.values()), Decimal(0))
    assert billed is not None and billed.number
    # The member table of that month: the organization total is the sum of the members' figures as shown.
    table = member_table(organization=org, now=timezone.now(),
                         date_range=DateRange("custom", period.start, period.end))
    assert table.org_total == sum((round_to_cents(row.spend) for row in table.rows), Decimal(0))
    assert table.org_total_exact == exact
    assert len(table.rows) == len(people)


def _assert_analytics(org, period_start, client):
    period = period_for_start(period_start, "UTC")
    response = client.get("/v1/organizations/analytics/cost", {
        "starting_at": period.starts_at.isoformat().replace("+00:00", "Z"),
        "ending_at": period.ends_at.isoformat().replace("+00:00", "Z")})
    assert response.status_code == 200, response.content
    body = response.json()
    assert not body["has_more"]
    amount = sum((Decimal(row["cost"]["amount"]) for row in body["data"]), Decimal(0)) / 100
    occurred = UsageEvent.objects.filter(organization=org, occurred_at__gte=period.starts_at,
                                         occurred_at__lt=period.ends_at).aggregate(s=Sum("cost", default=0))["s"]
    assert amount == occurred  # exact: never rounded


def _assert_prepaid(org, invoices):
    for month in (OCT, NOV):
        drawn = -(PrepaidLedgerEntry.objects.filter(organization=org, kind=LedgerKind.USAGE, period_start=month)
                  .aggregate(s=Sum("amount", default=0))["s"])
        on_invoices = sum(
            (line.unrounded_amount for invoice in invoices.values()
             for line in invoice.lines.filter(kind__in=USAGE_KINDS, informational=True)
             if (line.usage_period_start or invoice.period_start) == month), Decimal(0))
        assert drawn == on_invoices, month


@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ledger=ledger_strategy)
def test_one_rounding_rule_across_invoice_dashboard_csv_analytics_and_ledger(ledger, settings):
    settings.ADMIN_API_RATE_LIMIT_NAMESPACE = f"test-rounding:{uuid.uuid4().hex}"
    org, people, invoices = _build(ledger)
    for invoice in invoices.values():
        _assert_invoice(org, invoice)
    for month in (OCT, NOV):
        _assert_dashboards(org, people, month)
    if org.plan_kind == PlanKind.TEAM:
        _assert_prepaid(org, invoices)
    else:
        _, raw = admin_api_key_create(organization=org, name="analytics", scopes=[AdminScope.READ_ANALYTICS],
                                      now=timezone.now())
        client = Client(headers={"x-api-key": raw})
        for month in (OCT, NOV):
            _assert_analytics(org, month, client)


def test_the_invoice_page_states_the_rule_and_its_total_is_the_sum_of_member_totals():
    org, people, invoices = _build({"plan": PlanKind.ENTERPRISE_SEAT, "members": 3, "events": [
        (n, "claude-opus-4-5", "chat", 300_000, 30_000, 0, "oct", n + 1) for n in range(6)]})
    client = Client()
    client.force_login(people[0].user, backend="django.contrib.auth.backends.ModelBackend")
    invoice = invoices[OCT]
    page = client.get(reverse("invoicing:invoice_detail", kwargs={"slug": org.slug, "number": invoice.number}))
    html = page.content.decode()
    assert "rounded once to the cent, half up" in html
    member_totals = [group.total for group in page.context["groups"]]
    assert sum(member_totals, Decimal(0)) == invoice.total
