"""The demo `make demo` serves, seeded on PostgreSQL, tells the truth: closed months are invoiced exactly as their
events say, this month has members stopped at their limit (and only they ask for more), Acme's purchases less
its prepaid draws are its balance, and every page each role can reach answers without a server error.

The demo is seeded once for the module and committed (the browser test's live server reads it from another
connection); the other tests read it inside their own transaction, so nothing they do leaks. The module's end
empties the tables and puts back the price table the migration seeded."""

import importlib
import re
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db.models import F, Sum
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts.models import User
from apps.common.periods import period_containing
from apps.extra_usage.models import (
    ChargeStatus,
    ExtraUsageRequest,
    ExtraUsageSettings,
    LedgerKind,
    PrepaidCharge,
    PrepaidLedgerEntry,
    RequestStatus,
)
from apps.invoicing.models import Invoice, LineKind
from apps.organizations.models import Membership, Organization, PlanKind
from apps.spending.requests import member_extra_usage_summary
from apps.usage.models import MemberPeriodUsage, UsageEvent
from apps.usage.pricing import price_table
from tests.conftest import login, screenshot

REQUESTABLE = {"included_usage_exhausted", "extra_usage_disabled", "member_cap", "tier_cap"}


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        # An earlier transactional test may have flushed the price table (and this process cached it empty).
        importlib.import_module("apps.usage.migrations.0002_seed_price_table").seed(django_apps, None)
        price_table.invalidate()
        out = StringIO()
        call_command("seed_demo", stdout=out)
        yield out.getvalue()
        call_command("flush", "--noinput", verbosity=0)
        importlib.import_module("apps.usage.migrations.0002_seed_price_table").seed(django_apps, None)


def _closed_invoices(org: Organization) -> list[Invoice]:
    current = period_containing(timezone.now(), org.billing_timezone).start
    return list(Invoice.objects.filter(organization=org, period_start__lt=current).order_by("period_start"))


@pytest.mark.django_db
def test_each_closed_month_invoice_bills_the_months_events_once_per_member_with_an_exact_breakdown(demo):
    billed_usage = {}
    for org in Organization.objects.all():
        invoices = _closed_invoices(org)
        assert len(invoices) == 2, org.slug  # the month before last and last month
        pooled = org.plan_kind == PlanKind.ENTERPRISE_USAGE
        for invoice in invoices:
            events = UsageEvent.objects.filter(organization=org, period_start=invoice.period_start)
            per_member = {row["membership_id"]: row for row in events.values("membership_id").annotate(
                cost=Sum("cost"), included=Sum("included_cost"), tokens=Sum("input_tokens"))}
            lines = {}
            for line in invoice.lines.filter(kind__in=[LineKind.USAGE, LineKind.PREPAID_USAGE_INFO,
                                                       LineKind.LATE_USAGE_ADJUSTMENT]):
                assert line.kind != LineKind.LATE_USAGE_ADJUSTMENT  # every event was received in its month
                assert line.membership_id not in lines  # one usage line per member
                lines[line.membership_id] = line
            total_billed = Decimal(0)
            for membership_id, row in per_member.items():
                expected = row["cost"] if pooled else row["cost"] - row["included"]
                if not expected:
                    assert membership_id not in lines  # all of it covered by included usage
                    continue
                line = lines.pop(membership_id)
                assert (line.usage_cost, line.unrounded_amount) == (row["cost"], expected)
                assert line.amount == expected.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")  # rounded once
                total_billed += expected
            assert not lines, f"{org.slug} {invoice.period_start}: a usage line without events"
            # The breakdown by model and product adds up to the same events, exactly.
            by_mix = {(r["model_id"], r["product"]): r for r in events.values("model_id", "product").annotate(
                cost=Sum("cost"), tokens=Sum("input_tokens"))}
            rows = {(r.model_id, r.product): r for r in invoice.usage_rows.all()}
            assert set(rows) == set(by_mix)
            for key, row in rows.items():
                assert (row.usage_cost, row.input_tokens) == (by_mix[key]["cost"], by_mix[key]["tokens"])
            assert sum(r.billable for r in rows.values()) == total_billed
            billed_usage[(org.slug, invoice.period_start)] = total_billed
    # Pooled usage (Initech), extra usage (Globex) and prepaid draws (Acme) in both closed months.
    for (slug, month), amount in billed_usage.items():
        assert amount > 0, f"{slug} {month} bills no usage"


@pytest.mark.django_db
def test_the_figures_issue_23_found_apart_now_agree(demo):
    """Initech's billed usage vs its dashboard, Globex's members on the dashboard vs the invoice, Acme's prepaid
    draws vs its ledger, organization totals vs their members: one rounding rule (docs/billing.md)."""
    from apps.common.money import round_to_cents
    from apps.extra_usage.models import LedgerKind, PrepaidLedgerEntry
    from apps.monitoring.totals import billed_period, member_totals_for_period

    for org in Organization.objects.all():
        owner = User.objects.get(email=f"owner@{org.slug}.example")
        client = Client()
        client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
        last = _closed_invoices(org)[-1]
        usage_lines = list(last.lines.filter(kind__in=[LineKind.USAGE, LineKind.PREPAID_USAGE_INFO]))
        # Each member's usage is one line: their exact usage of the month, rounded once; on the dashboard the
        # same member's month reads the same amount.
        counters = {row.membership_id: row for row in MemberPeriodUsage.objects.filter(
            organization=org, period_start=last.period_start)}
        for line in usage_lines:
            row = counters[line.membership_id]
            exact = row.spend if org.plan_kind == PlanKind.ENTERPRISE_USAGE else row.spend - row.included_spend
            assert line.unrounded_amount == exact and line.amount == round_to_cents(exact)
        # The dashboard's last month: the billed figure beside the exact one, with the invoice number; the
        # organization total is the sum of its members as shown.
        page = client.get(f"/orgs/{org.slug}/usage/dashboard/?range=last_period").content.decode()
        billed = billed_period(organization=org, period_start=last.period_start)
        assert billed.number == last.number and last.number in page
        assert billed.billed == sum(line.amount for line in usage_lines)
        totals = member_totals_for_period(organization=org, period_start=last.period_start)
        assert totals.spend == sum((round_to_cents(r.spend) for r in counters.values()), Decimal(0))
        assert totals.extra == sum((round_to_cents(r.spend - r.included_spend) for r in counters.values()),
                                   Decimal(0))
        # The breakdown by model is exact: no model row is rounded on its own.
        detail = client.get(f"/orgs/{org.slug}/invoices/{last.number}/").content.decode()
        assert "included in the member lines above" in detail
        if org.plan_kind == PlanKind.TEAM:
            # Acme: the prepaid ledger's draws for each month equal the invoice's drawn-from-prepaid lines.
            for invoice in _closed_invoices(org):
                drawn = -PrepaidLedgerEntry.objects.filter(
                    organization=org, kind=LedgerKind.USAGE, period_start=invoice.period_start,
                ).aggregate(s=Sum("amount"))["s"]
                assert drawn == sum(line.unrounded_amount for line in invoice.lines.filter(
                    kind=LineKind.PREPAID_USAGE_INFO))


@pytest.mark.django_db
def test_events_were_received_when_they_occurred(demo):
    events = UsageEvent.objects.all()
    assert events.count() > 5000
    assert not events.filter(received_at__lt=F("occurred_at")).exists()
    late = [e for e in events.only("occurred_at", "received_at")
            if (e.received_at - e.occurred_at).total_seconds() > 24 * 3600]
    assert late == []  # each day's events are received that day


@pytest.mark.django_db
def test_this_month_members_stopped_at_their_limit_can_ask_and_only_they_have_asked(demo):
    now = timezone.now()
    for slug in ("globex-enterprise", "initech-enterprise"):
        summaries = {m.user.email: member_extra_usage_summary(membership=m, now=now)
                     for m in Membership.objects.filter(organization__slug=slug).select_related("organization",
                                                                                             "user")}
        can_ask = [email for email, s in summaries.items() if s.can_request]
        assert can_ask, f"{slug}: nobody sees Request extra usage"
        pending = ExtraUsageRequest.objects.filter(organization__slug=slug, status=RequestStatus.PENDING)
        assert pending.exists()
        for request in pending.select_related("membership__user"):
            summary = summaries[request.membership.user.email]
            assert summary.blocked_reason in REQUESTABLE, (request.membership.user.email, summary.blocked_reason)
            stopped_at = UsageEvent.objects.filter(membership=request.membership, blocked_after=True,
                                                   period_start=summary.period_start).order_by("occurred_at").first()
            assert stopped_at is not None and stopped_at.received_at <= request.created_at <= now


@pytest.mark.django_db
def test_acmes_purchase_history_less_its_draws_is_its_balance(demo):
    acme = Organization.objects.get(slug="acme-team")
    balance = ExtraUsageSettings.objects.get(organization=acme).prepaid_balance
    bought = PrepaidCharge.objects.filter(organization=acme, status=ChargeStatus.SUCCEEDED).aggregate(
        s=Sum("amount"))["s"]
    drawn = PrepaidLedgerEntry.objects.filter(organization=acme, kind=LedgerKind.USAGE).aggregate(s=Sum("amount"))["s"]
    assert PrepaidCharge.objects.filter(organization=acme).count() >= 2
    assert drawn < 0
    assert bought + drawn == balance
    ledger_purchases = PrepaidLedgerEntry.objects.filter(organization=acme).exclude(kind=LedgerKind.USAGE)
    assert ledger_purchases.aggregate(s=Sum("amount"))["s"] == bought


CRAWL_USERS = ["owner@globex-enterprise.example", "admin@globex-enterprise.example",
               "member2@globex-enterprise.example", "owner@acme-team.example", "member2@acme-team.example",
               "owner@initech-enterprise.example", "member3@initech-enterprise.example",
               "member24@initech-enterprise.example"]
SKIP = ("logout", "/static/", "/admin/", "/pdf/")
PAGES_PER_USER = 80


@pytest.mark.django_db
@pytest.mark.parametrize("email", CRAWL_USERS)
def test_every_page_a_role_can_reach_answers_without_a_server_error(demo, email):
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.get(email=email))
    seen, queue, failures = set(), ["/"], []
    while queue and len(seen) < PAGES_PER_USER:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url, follow=True)
        if response.status_code >= 500:
            failures.append((url, response.status_code))
            continue
        if "text/html" not in response.get("Content-Type", ""):
            continue
        for href in re.findall(r'(?:href|hx-get)="(/[^"#]*)"', response.content.decode(errors="replace")):
            href = href.replace("&amp;", "&")
            if not any(part in href for part in SKIP) and href not in seen:
                queue.append(href)
    assert failures == []
    assert len(seen) >= (20 if email.startswith("owner@") else 2)  # owners reach settings, dashboards, invoices…


@pytest.mark.django_db
def test_a_member_opening_an_owner_page_sees_the_styled_not_found_page(demo, client):
    client.force_login(User.objects.get(email="member1@globex-enterprise.example"))
    response = client.get("/orgs/globex-enterprise/settings/usage/")
    assert response.status_code == 404
    html = response.content.decode()
    assert 'data-error-page="404"' in html
    assert "Page not found" in html and "Back to your organizations" in html
    assert "URLconf" not in html and "Using the URLconf" not in html  # not Django's technical page
    assert 'class="topbar"' in html  # the portal's layout


# Last: a live-server test empties the tables when it ends.
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_closed_months_invoice_shows_one_usage_line_per_member_and_the_exact_breakdown(demo, page):
    org = Organization.objects.get(slug="initech-enterprise")
    invoice = _closed_invoices(org)[-1]
    line = (invoice.lines.filter(kind=LineKind.USAGE, unrounded_amount__gt=0)
            .select_related("membership__user").order_by("-unrounded_amount").first())
    login(page, "owner@initech-enterprise.example", password="demo")
    page.goto(f"/orgs/{org.slug}/invoices/{invoice.number}/")
    section = page.locator(f'details[data-member="{line.membership.user.email}"]')
    section.locator("summary").click()
    row = section.locator("tr[data-line]", has_text="Usage at API rates")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"${line.amount:,.2f}")
    expect(page.get_by_test_id("breakdown-note")).to_contain_text("included in the member lines above")
    screenshot(page, "demo-closed-month-invoice")


def test_each_organizations_own_domain_is_verified_and_the_report_says_so(demo):
    """Issue 26: SSO and SCIM act only on verified domains; the demo marks its own .example domains verified
    (no DNS lookup: .example names hold no TXT record) and says so."""
    from apps.identity.models import SsoDomain

    for org in Organization.objects.all():
        claim = SsoDomain.objects.get(organization=org)
        assert claim.domain == f"{org.slug}.example" and claim.is_verified
    assert "Verified domains: acme-team.example, globex-enterprise.example, initech-enterprise.example" in demo
    assert not SsoDomain.objects.filter(verified_at__isnull=True).exists()
