"""Every limit is shown beside the spend it limits, labelled: extra usage this month against the extra-usage limit
on seat-based plans (the month's total, included usage too, apart), total against total on usage-based plans.
Issue 23: "MTD $10.36 · limit $10.00 · Remaining $10.00" set a total beside a limit on extra usage."""

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine

from apps.organizations.models import PlanKind, Role
from apps.usage.models import CapScope
from apps.usage.services import cap_set
from tests.factories import OrganizationFactory, member
from tests.monitoring.helpers import record

from .conftest import client_for

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 18, 12, tzinfo=dt.UTC)


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@time_machine.travel(NOW, tick=False)
def test_seat_based_limit_sits_beside_extra_usage_and_the_total_apart():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="globex")  # Standard includes $30.00
    owner = member(org, email="owner@globex.test", role=Role.OWNER, since=NOW - dt.timedelta(days=40))
    dev = member(org, email="dev@globex.test", since=NOW - dt.timedelta(days=40))
    cap_set(organization=org, scope=CapScope.MEMBER, membership=dev, amount=Decimal("10"), now=NOW)
    record(org, "dev@globex.test", "10.36", now=NOW, occurred_at=NOW - dt.timedelta(hours=2))  # all included

    settings_page = client_for(owner).get(f"/orgs/{org.slug}/settings/usage/")
    row = re.search(rf'<tr id="limit-{dev.pk}">(.*?)</tr>', settings_page.content.decode(), re.S).group(1)
    header = _text(settings_page)
    assert "Extra usage this month" in header and "Extra-usage limit" in header
    cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                                          row, re.S)]
    assert cells[2] == "$0.00 $10.36 in total, included usage too"  # the spend the limit bounds, first
    assert cells[3].startswith("$10.00") and cells[4] == "$10.00"  # its limit, and what remains of it

    client = client_for(dev)
    mine = _text(client.get(f"/orgs/{org.slug}/usage/me/"))
    assert ("Extra usage this month $0.00 Extra-usage limit $10.00 Member Extra usage remaining $10.00 "
            "Total this month, included usage too $10.36") in mine


@time_machine.travel(NOW, tick=False)
def test_usage_based_limit_sits_beside_all_usage():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="initech")
    owner = member(org, email="owner@initech.test", role=Role.OWNER, since=NOW - dt.timedelta(days=40))
    dev = member(org, email="dev@initech.test", since=NOW - dt.timedelta(days=40))
    cap_set(organization=org, scope=CapScope.MEMBER, membership=dev, amount=Decimal("10"), now=NOW)
    record(org, "dev@initech.test", "4.25", now=NOW, occurred_at=NOW - dt.timedelta(hours=2))

    page = client_for(owner).get(f"/orgs/{org.slug}/settings/usage/").content.decode()
    row = re.search(rf'<tr id="limit-{dev.pk}">(.*?)</tr>', page, re.S).group(1)
    cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                                          row, re.S)]
    assert cells[2] == "$4.25" and cells[3].startswith("$10.00") and cells[4] == "$5.75"
    assert "Spend this month" in page and "Spend limit" in page and "Extra-usage limit" not in page
    mine = _text(client_for(dev).get(f"/orgs/{org.slug}/usage/me/"))
    assert "Spend this month $4.25 Spend limit $10.00 Member Remaining $5.75" in mine


@time_machine.travel(NOW, tick=False)
def test_limits_sort_by_the_spend_they_bound():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="sorted")
    owner = member(org, email="owner@sorted.test", role=Role.OWNER, since=NOW - dt.timedelta(days=40))
    member(org, email="big@sorted.test", since=NOW - dt.timedelta(days=40))
    member(org, email="extra@sorted.test", since=NOW - dt.timedelta(days=40))
    record(org, "big@sorted.test", "29", now=NOW, occurred_at=NOW - dt.timedelta(hours=2))  # included only
    record(org, "extra@sorted.test", "31", now=NOW, occurred_at=NOW - dt.timedelta(hours=2))  # $1 extra
    record(org, "big@sorted.test", "0.99", now=NOW, occurred_at=NOW - dt.timedelta(hours=1))  # still included
    page = client_for(owner).get(f"/orgs/{org.slug}/settings/usage/limits/?sort=-mtd").content.decode()
    order = re.findall(r'<div class="email">([^<]+)</div>', page)
    assert order[0] == "extra@sorted.test"
