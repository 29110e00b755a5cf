import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from apps.organizations.models import PlanKind, Role
from apps.usage.models import CapScope
from apps.usage.services import cap_set
from tests.factories import OrganizationFactory, member

# Wednesday 18 November 2026, noon UTC: the period is November; the previous one October.
NOW = dt.datetime(2026, 11, 18, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def team(frozen):
    """A usage-based Enterprise organization with an org cap of $1,000 and one member of each role."""
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="acme", name="Acme")
    people = {
        role: member(org, email=f"{role}@acme.test", role=role, since=NOW - dt.timedelta(days=60))
        for role in (Role.PRIMARY_OWNER, Role.OWNER, Role.ADMIN, Role.MEMBER)
    }
    cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=Decimal("1000"), now=NOW)
    return org, people


