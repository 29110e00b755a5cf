"""Dashboard headings carry the range's month and the organization's zone; a past range keeps its month in the
heading and, on seat-based plans, the included / extra split."""

import datetime as dt
import re

import pytest
import time_machine

from apps.organizations.models import PlanKind, Role
from tests.factories import OrganizationFactory, member

from .helpers import record

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)


def _text(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@time_machine.travel(NOW, tick=False)
def test_headings_name_the_month_and_zone_for_this_period_past_months_and_custom_ranges(client):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="globex", billing_timezone="Europe/Berlin")
    owner = member(org, email="owner@globex.test", role=Role.OWNER, since=NOW - dt.timedelta(days=80))
    dev = member(org, email="dev@globex.test", since=NOW - dt.timedelta(days=80))
    record(org, "dev@globex.test", "31.50", now=NOW, occurred_at=dt.datetime(2026, 11, 10, 9, tzinfo=dt.UTC))
    client.force_login(owner.user)
    base = f"/orgs/{org.slug}/usage/dashboard/"

    assert "December 2026 · month to date · days in Europe/Berlin" in _text(client.get(base))
    past = _text(client.get(base + "?range=last_period"))
    assert "November 2026 · days in Europe/Berlin" in past
    assert "Spend in November 2026" in past
    # Standard includes $30.00: $1.50 of November's $31.50 was extra usage.
    # Each figure rounded once from the exact one shown beside it (docs/billing.md, "Rounding").
    assert "Spend $31.50 exact $31.50 Included usage $30.00 exact $30.00 Extra usage $1.50 exact $1.50" in past
    custom = _text(client.get(base + "?range=custom&from=2026-11-01&to=2026-11-15"))
    assert "Nov 1 – 15, 2026 · days in Europe/Berlin" in custom
    assert "Spend from Nov 1, 2026 to Nov 15, 2026" in custom
    for page in ("tiers/", "members/", f"members/{dev.pk}/"):
        assert "November 2026 · days in Europe/Berlin" in _text(client.get(base + page + "?range=last_period"))
        assert "December 2026 · month to date · days in Europe/Berlin" in _text(client.get(base + page))
    client.cookies["django_language"] = "de"
    assert "November 2026 · Tage in Europe/Berlin" in _text(client.get(base + "?range=last_period"))


@time_machine.travel(NOW, tick=False)
def test_times_on_pages_use_one_babel_format_in_the_organizations_zone_named(client):
    from decimal import Decimal

    from apps.usage.models import CapScope
    from apps.usage.services import cap_set

    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="zoned", billing_timezone="Europe/Berlin")
    owner = member(org, email="owner@zoned.test", role=Role.OWNER, since=NOW - dt.timedelta(days=80))
    cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=Decimal("500"), actor=owner.user, now=NOW)
    client.force_login(owner.user)
    # 12:00 UTC is 13:00 in Berlin, on the audit log and in Settings > Usage's recent changes alike.
    for url in (f"/orgs/{org.slug}/settings/audit-log/", f"/orgs/{org.slug}/settings/usage/"):
        assert "Dec 7, 2026, 1:00 PM (Europe/Berlin)" in _text(client.get(url))
    client.cookies["django_language"] = "de"
    assert "07.12.2026, 13:00 (Europe/Berlin)" in _text(client.get(f"/orgs/{org.slug}/settings/audit-log/"))
