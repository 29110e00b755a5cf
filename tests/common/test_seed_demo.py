"""`manage.py seed_demo` builds the demo on PostgreSQL, and a second run changes nothing."""

from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db.models import F, Sum

from apps.extra_usage.models import ExtraUsageSettings, PrepaidLedgerEntry
from apps.organizations.models import Membership, Organization, Role
from apps.seats.models import SeatAssignment
from apps.usage.models import MemberPeriodUsage, OrgUsageSlot, SpendCap, UsageDailyRollup, UsageEvent

pytestmark = pytest.mark.django_db


def table_counts() -> dict[str, int]:
    return {m._meta.label: m.objects.count() for m in apps.get_models() if m._meta.app_label != "axes"}


def test_seed_demo_twice_builds_the_demo_once(rf):
    first = StringIO()
    call_command("seed_demo", stdout=first)
    counts = table_counts()
    second = StringIO()
    call_command("seed_demo", stdout=second)
    assert table_counts() == counts

    orgs = {o.slug: o for o in Organization.objects.all()}
    assert {slug: org.plan_kind for slug, org in orgs.items()} == {
        "acme-team": "team", "globex-enterprise": "enterprise_seat", "initech-enterprise": "enterprise_usage"}
    for slug, org in orgs.items():
        roles = dict(Membership.objects.filter(organization=org).values_list("user__email", "role"))
        assert roles[f"owner@{slug}.example"] == Role.PRIMARY_OWNER
        assert roles[f"owner2@{slug}.example"] == Role.OWNER
        assert roles[f"admin@{slug}.example"] == Role.ADMIN
        assert sum(1 for r in roles.values() if r == Role.MEMBER) >= 20
        assert len(set(SeatAssignment.objects.filter(organization=org, ended_at__isnull=True)
                    .values_list("tier__code", flat=True))) == 2  # every tier is in use
        assert SpendCap.objects.filter(organization=org, amount__isnull=False).exists()
        # History since the start of the month before last, and the counters agree with the events to the last digit.
        events = UsageEvent.objects.filter(organization=org)
        assert events.dates("occurred_at", "day").count() >= 55
        assert events.values("product").distinct().count() >= 2
        assert events.values("model").distinct().count() >= 4
        total = events.aggregate(s=Sum("cost"))["s"]
        assert MemberPeriodUsage.objects.filter(organization=org).aggregate(s=Sum("spend"))["s"] == total
        assert OrgUsageSlot.objects.filter(organization=org).aggregate(s=Sum("spend"))["s"] == total
        assert UsageDailyRollup.objects.filter(organization=org).aggregate(s=Sum("cost"))["s"] == total
    # Some members went past their included usage on both seat-based plans.
    for slug in ("acme-team", "globex-enterprise"):
        assert MemberPeriodUsage.objects.filter(organization=orgs[slug], spend__gt=F("included_spend")).exists()
    assert ExtraUsageSettings.objects.get(organization=orgs["globex-enterprise"]).enabled
    acme = ExtraUsageSettings.objects.get(organization=orgs["acme-team"])
    assert acme.enabled
    ledger = PrepaidLedgerEntry.objects.filter(organization=orgs["acme-team"])
    assert ledger.filter(kind="purchase").count() == 2  # $1,000 when set up, a $500 top-up last month
    assert acme.prepaid_balance == ledger.aggregate(s=Sum("amount"))["s"] < Decimal("1500")

    # Logins work; keys are printed on the first run only.
    request = rf.get("/")
    assert authenticate(request, username="owner@acme-team.example", password="demo") is not None
    assert authenticate(request, username="member24@initech-enterprise.example", password="demo") is not None
    staff = authenticate(request, username="staff@billing-portal.example", password="demo")
    assert staff is not None and staff.is_superuser
    assert first.getvalue().count("bp_live_") == 3
    assert "bp_live_" not in second.getvalue()
    assert "http://127.0.0.1:8000" in second.getvalue()


def test_seeded_in_the_first_minutes_of_a_month_the_demo_still_tells_the_truth():
    """Twenty minutes into a month (UTC; an hour into it in Berlin): members still reached their limit this month
    and only they asked, and both closed months are invoiced with their usage."""
    import datetime as dt

    import time_machine
    from django.utils import timezone

    from apps.extra_usage.models import ExtraUsageRequest, RequestStatus
    from apps.invoicing.models import Invoice, LineKind
    from apps.spending.requests import member_extra_usage_summary

    with time_machine.travel(dt.datetime(2027, 1, 1, 0, 20, tzinfo=dt.UTC), tick=True):
        call_command("seed_demo", stdout=StringIO())
        now = timezone.now()
        for slug in ("globex-enterprise", "initech-enterprise"):
            summaries = [member_extra_usage_summary(membership=m, now=now)
                         for m in Membership.objects.filter(organization__slug=slug).select_related("organization")]
            assert any(s.can_request for s in summaries), slug
            for request in ExtraUsageRequest.objects.filter(organization__slug=slug, status=RequestStatus.PENDING):
                summary = member_extra_usage_summary(membership=request.membership, now=now)
                assert summary.blocked_reason in {"member_cap", "tier_cap"}, request.membership_id
                assert request.period_start == summary.period_start  # asked this month, after being stopped
        for org in Organization.objects.all():
            invoices = Invoice.objects.filter(organization=org).order_by("period_start")
            assert [i.period_start.month for i in invoices] == ([10, 11] if org.slug == "acme-team" else [11, 12])
            for invoice in invoices:
                assert invoice.lines.filter(kind__in=[LineKind.USAGE, LineKind.PREPAID_USAGE_INFO],
                                            unrounded_amount__gt=0).exists(), (org.slug, invoice.period_start)
