"""The effective report agrees with what admission enforces, member by member, on seeded organizations."""

from decimal import Decimal

import pytest
from django.utils import timezone

from apps.common.periods import period_containing
from apps.extra_usage.services.switches import extra_usage_enable
from apps.organizations.models import PlanKind
from apps.seats.selectors import seat_current
from apps.spending.selectors import Reason, admission_check
from apps.usage.models import CapScope
from apps.usage.selectors import org_counters
from apps.usage.services import cap_set

from .conftest import Seeded, sdk, spend

pytestmark = pytest.mark.django_db(transaction=True)

CAP_REASONS = {"user": Reason.MEMBER_CAP, "seat_tier": Reason.TIER_CAP, "organization": Reason.ORG_CAP}


def assert_report_matches_admission(live_server, seeded: Seeded) -> list[str]:
    """For every member: blocked by a cap ⇔ remaining ≤ 0 at the reported amount and source, and admission's
    reason names the reported source. Returns the admission outcome per member, for the caller's sanity."""
    now = timezone.now()
    org = seeded.org
    rows = {r.scope.user_id: r for r in sdk(live_server, seeded.key).beta.organization.spend_limits.effective.list(
        limit=1000)}
    assert set(rows) == {m.user.public_id for m in seeded.everyone}
    org_spent_cents = org_counters(organization_id=org.pk,
                                   period_start=period_containing(now, org.billing_timezone).start).capped * 100
    outcomes = []
    for membership in seeded.everyone:
        row = rows[membership.user.public_id]
        admission = admission_check(organization=org, membership=membership, product=None, now=now)
        if row.amount is None:
            remaining = None
        elif row.source.type == "organization":
            remaining = Decimal(row.amount) - org_spent_cents
        else:
            remaining = Decimal(row.amount) - Decimal(row.period_to_date_spend)
        blocked_by_cap = admission.reason in CAP_REASONS.values()
        assert blocked_by_cap == (remaining is not None and remaining <= 0), membership.user.email
        if blocked_by_cap:
            assert admission.reason == CAP_REASONS[row.source.type], membership.user.email
        if org.plan_kind == PlanKind.ENTERPRISE_USAGE:
            assert admission.allowed == (not blocked_by_cap)
        # The row the report names is the binding cap row of that level.
        if row.source.type == "user":
            assert row.spend_limit_id == membership.spend_caps.get().public_id
        outcomes.append(admission.reason or "allowed")
    return outcomes


def test_effective_report_agrees_with_admission_on_usage_based_enterprise(live_server):
    seeded = Seeded()
    m = seeded.members  # chat tier (capped at $300): 0, 2, 4; member 1 has an own cap of $150
    spend(m[0], "300")        # at the tier cap → tier_cap
    spend(m[1], "150.004")    # past their own cap → member_cap
    spend(m[2], "120.5")      # under
    spend(m[3], "4000")       # no tier cap; under the $5,000 org cap for now
    outcomes = assert_report_matches_admission(live_server, seeded)
    assert outcomes.count("tier_cap") == 1 and outcomes.count("member_cap") == 1

    # The organization's total passes its cap: everyone not already stopped lower down is stopped by it.
    spend(seeded.owner, "1000")
    outcomes = assert_report_matches_admission(live_server, seeded)
    assert outcomes.count("org_cap") >= 5

    # Lift the org cap and give member 2 an own cap of zero: they are blocked by it, nobody else by the org.
    cap_set(organization=seeded.org, scope=CapScope.ORGANIZATION, amount=None, now=timezone.now())
    cap_set(organization=seeded.org, scope=CapScope.MEMBER, membership=m[2], amount=Decimal("0"), now=timezone.now())
    outcomes = assert_report_matches_admission(live_server, seeded)
    assert "org_cap" not in outcomes and outcomes.count("member_cap") == 2


def test_effective_report_agrees_with_admission_on_seat_based_enterprise(live_server):
    seeded = Seeded(plan_kind=PlanKind.ENTERPRISE_SEAT)
    extra_usage_enable(organization=seeded.org, now=timezone.now())
    included = {"standard": "30", "premium": "160"}
    extra = ["0", "300", "149.99", "151", "300", "0", "10", "4000"]  # owner, admin, m0…m5
    for membership, dollars in zip(seeded.everyone, extra, strict=True):
        inc = included[seat_current(membership=membership).tier.code]
        # Every member has used up their included usage; caps bound the extra usage beyond it.
        spend(membership, Decimal(inc) + Decimal(dollars), included=inc)
    outcomes = assert_report_matches_admission(live_server, seeded)
    assert {"tier_cap", "member_cap"} <= set(outcomes)
