"""The invoice pages in the OS Chromium: an owner finds the month's invoice in the list, opens it, sees the
total and each member's lines, and downloads the CSV and the PDF. Screenshots: test-output/screenshots/invoice-*.png.
"""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from apps.invoicing.services import invoice_issue_for_period
from apps.organizations.models import PlanKind, Role
from apps.usage.models import UsageEvent
from tests.conftest import login, screenshot
from tests.factories import OrganizationFactory, member

from .helpers import at, event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOV = dt.date(2026, 11, 1)


@pytest.fixture
def invoice(db):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="acme", name="Acme")
    member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER, tier_code="standard",
           since=at("UTC", 2026, 10, 1))
    dev = member(org, email="dev@acme.example", tier_code="premium", since=at("UTC", 2026, 10, 1))
    UsageEvent.objects.bulk_create([
        event(dev, occurred_at=at("UTC", 2026, 11, 20), period_start=NOV, cost=Decimal("200.125"),
              included=Decimal("160"), model_alias="claude-opus-4-5"),
    ])
    return invoice_issue_for_period(organization=org, period_start=NOV, now=at("UTC", 2026, 12, 1, 0, 20))


def test_owner_opens_the_invoice_and_downloads_it(page, invoice):
    login(page, "owner@acme.example")
    page.goto("/orgs/acme/invoices/")
    expect(page.get_by_role("heading", name="Invoices")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=invoice.number)
    expect(row).to_contain_text("$")
    screenshot(page, "invoice-list")

    row.get_by_role("link", name=invoice.number).click()
    expect(page.get_by_role("heading", name=f"Invoice {invoice.number}")).to_be_visible()
    expect(page.get_by_test_id("invoice-total")).to_have_text(f"${invoice.total:,.2f}")
    expect(page.locator("main")).to_contain_text("dev@acme.example")
    screenshot(page, "invoice-detail")

    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Download CSV").click()
    with open(csv_download.value.path(), encoding="utf-8") as downloaded:
        rows = list(csv.DictReader(io.StringIO(downloaded.read())))
    usage = [r for r in rows if r["member"] == "dev@acme.example" and r["kind"] == "usage"]
    assert [(r["usage_cost"], r["included_cost"]) for r in usage] == [("200.125", "160")]

    with page.expect_download() as pdf_download:
        page.get_by_role("link", name="Download PDF").click()
    with open(pdf_download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
