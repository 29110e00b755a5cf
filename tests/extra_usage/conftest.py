import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.extra_usage.models import ExtraUsageSettings, PrepaidLedgerEntry
from apps.extra_usage.selectors import prepaid_ledger_sum
from apps.organizations.models import PlanKind, Role
from apps.spending.services import UsageInput, usage_record_batch
from apps.usage.pricing import Tokens
from tests.factories import OrganizationFactory, member

_keys = itertools.count()
NOW = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.UTC)


def spend(organization, email: str, dollars: str | Decimal, *, now: dt.datetime | None = None, key: str | None = None):
    """Record one Haiku 4.5 event costing exactly `dollars` ($1 per million input tokens) and return its outcome."""
    tokens = int(Decimal(dollars) * 1_000_000)
    item = UsageInput(idempotency_key=key or f"k{next(_keys)}", member=email, product="chat",
                      model="claude-haiku-4-5", tokens=Tokens(input=tokens, output=0),
                      occurred_at=None)
    [outcome] = usage_record_batch(organization=organization, items=[item], now=now or timezone.now())
    assert outcome.status in ("created", "replayed"), outcome
    return outcome


def assert_ledger_invariant(organization) -> Decimal:
    """The prepaid balance equals the sum of its ledger rows, always."""
    balance = ExtraUsageSettings.objects.get(organization=organization).prepaid_balance
    assert balance == prepaid_ledger_sum(organization=organization)
    return balance


def ledger_kinds(organization) -> list[str]:
    return list(PrepaidLedgerEntry.objects.filter(organization=organization).order_by("id")
                .values_list("kind", flat=True))


@pytest.fixture
def team(db):
    """A Team organization: owner, admin, and a member on a Standard seat ($25 included)."""
    org = OrganizationFactory(plan_kind=PlanKind.TEAM, slug="team-co")
    owner = member(org, email="owner@team.example", role=Role.PRIMARY_OWNER)
    admin = member(org, email="admin@team.example", role=Role.ADMIN)
    dev = member(org, email="dev@team.example", tier_code="standard")
    return org, owner, admin, dev


@pytest.fixture
def seat_org(db):
    """A seat-based Enterprise organization: owner, admin, a Standard member ($30 included), a Premium member
    ($160 included)."""
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="ent-co")
    owner = member(org, email="owner@ent.example", role=Role.PRIMARY_OWNER)
    admin = member(org, email="admin@ent.example", role=Role.ADMIN)
    std = member(org, email="std@ent.example", tier_code="standard")
    prem = member(org, email="prem@ent.example", tier_code="premium")
    return org, owner, admin, std, prem


