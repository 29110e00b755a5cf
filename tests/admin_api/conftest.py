"""Fixtures for the Admin API tests: Enterprise organizations seeded with members, caps, spend and increase
requests, Admin API keys, and the official `anthropic` SDK pointed at the live server."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import anthropic
import pytest
from django.utils import timezone

from apps.admin_api.models import AdminScope
from apps.admin_api.services import admin_api_key_create
from apps.common.periods import period_containing
from apps.extra_usage.services.usage_requests import extra_usage_request_create
from apps.organizations.models import Organization, PlanKind, Role
from apps.usage.models import CapScope, MemberPeriodUsage, OrgUsageSlot
from apps.usage.services import cap_set
from tests.factories import OrganizationFactory, member, tier

BOTH = [AdminScope.READ_SPEND_LIMITS, AdminScope.WRITE_SPEND_LIMITS]


@pytest.fixture(autouse=True)
def _own_rate_limit_budget(settings):
    """Each test counts its requests in its own Redis namespace (REDIS_URL names the tester's own db)."""
    settings.ADMIN_API_RATE_LIMIT_NAMESPACE = f"test-admin-api:{uuid.uuid4().hex}"


def admin_key(organization: Organization, scopes=BOTH, name: str = "automation") -> str:
    _, raw = admin_api_key_create(organization=organization, name=name, scopes=scopes, now=timezone.now())
    return raw


def sdk(live_server, raw_key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=live_server.url, api_key=raw_key, max_retries=0)


def spend(membership, dollars: str | Decimal, *, included: str | Decimal = "0", now=None) -> None:
    """Give a member month-to-date spend (and add it to the organization's total)."""
    now = now or timezone.now()
    period = period_containing(now, membership.organization.billing_timezone)
    amount, included = Decimal(dollars), Decimal(included)
    MemberPeriodUsage.objects.update_or_create(
        membership=membership, period_start=period.start,
        defaults={"organization": membership.organization, "spend": amount, "included_spend": included,
                  "event_count": 1},
    )
    slot = OrgUsageSlot.objects.filter(organization=membership.organization, period_start=period.start,
                                       slot=0).first()
    if slot is None:
        OrgUsageSlot.objects.create(organization=membership.organization, period_start=period.start, slot=0,
                                    spend=amount, included_spend=included, event_count=1)
    else:
        slot.spend += amount
        slot.included_spend += included
        slot.save()


class Seeded:
    """A usage-based Enterprise organization: primary owner, admin, six members over two tiers, an org cap, a
    tier cap, one member cap, some spend, and pending requests from three members."""

    def __init__(self, plan_kind=PlanKind.ENTERPRISE_USAGE):
        now = timezone.now()
        self.org = OrganizationFactory(plan_kind=plan_kind)
        codes = ("chat", "chat_code") if plan_kind == PlanKind.ENTERPRISE_USAGE else ("standard", "premium")
        self.owner = member(self.org, role=Role.PRIMARY_OWNER, tier_code=codes[1])
        self.admin = member(self.org, role=Role.ADMIN, tier_code=codes[1])
        self.members = [member(self.org, tier_code=codes[i % 2]) for i in range(6)]
        self.org_cap = cap_set(organization=self.org, scope=CapScope.ORGANIZATION, amount=Decimal("5000"), now=now)
        self.tier_cap = cap_set(organization=self.org, scope=CapScope.SEAT_TIER, tier=tier(self.org, codes[0]),
                                amount=Decimal("300"), now=now)
        self.member_cap = cap_set(organization=self.org, scope=CapScope.MEMBER, membership=self.members[1],
                                  amount=Decimal("150"), now=now)
        self.requests = [extra_usage_request_create(membership=m, now=now + dt.timedelta(seconds=i))
                         for i, m in enumerate(self.members[:3])]
        self.key = admin_key(self.org)

    @property
    def everyone(self):
        return [self.owner, self.admin, *self.members]


@pytest.fixture
def seeded(db):
    return Seeded()
