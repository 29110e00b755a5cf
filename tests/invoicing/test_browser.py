"""The invoice pages in the OS Chromium: an owner finds the month's invoice in the list, opens it, sees the
total and each member's lines, and downloads the CSV and the PDF; the page, the CSV and the PDF's text
(pdftotext, from poppler-utils) list the same lines in the same order with the same total.
Screenshots: test-output/screenshots/invoice-*.png.
"""

import csv
import datetime as dt
import io
import re
import subprocess
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


@pytest.fixture
def team_invoice(db):
    """Members named so that text order and natural order differ (member10 sorts after member2)."""
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="initech", name="Initech")
    owner = member(org, email="owner@initech.example", role=Role.PRIMARY_OWNER, tier_code="chat",
                   since=at("UTC", 2026, 10, 1))
    people = [member(org, email=f"member{n}@initech.example", tier_code="chat_code", since=at("UTC", 2026, 10, 1))
              for n in (10, 2, 1)]
    for membership, name in zip([owner, *people], ["Owner", "Member 10", "Member 2", "Member 1"], strict=True):
        membership.user.name = name
        membership.user.save(update_fields=["name"])
    UsageEvent.objects.bulk_create([
        event(person, occurred_at=at("UTC", 2026, 11, 5 + i), period_start=NOV, cost=Decimal(f"{3 + i}.125{n}"),
              model_alias=alias, product=product, tokens=(1000 * (i + 1), 100, 10, 1))
        for n, person in enumerate(people)
        for i, (alias, product) in enumerate([("claude-opus-4-5", "chat"), ("claude-haiku-4-5", "claude_code")])
    ])
    return invoice_issue_for_period(organization=org, period_start=NOV, now=at("UTC", 2026, 12, 1, 0, 20))


def test_page_csv_and_pdf_show_the_same_lines_and_totals(page, team_invoice, tmp_path):
    invoice = team_invoice
    login(page, "owner@initech.example")
    page.goto(f"/orgs/initech/invoices/{invoice.number}/")
    expect(page.get_by_test_id("invoice-total")).to_have_text(f"${invoice.total:,.2f}")
    members = page.locator("details[data-member]")
    expect(members).to_have_count(4)
    assert [members.nth(i).get_attribute("data-member") for i in range(4)] == [  # by name, in natural order
        "member1@initech.example", "member2@initech.example", "member10@initech.example", "owner@initech.example"]
    # Each member's section is collapsed, its total on its summary; opening it shows one line per kind.
    first = members.first
    expect(first.locator("tr[data-line]").first).to_be_hidden()
    first.locator("summary").click()
    expect(first.locator("tr[data-line]")).to_have_count(2)  # seat fee, usage (both products, both models)
    expect(first.locator("tr[data-line]").nth(1)).to_contain_text("Usage at API rates")
    rows = page.locator("details[data-member] tr[data-line]")
    page_lines = [(rows.nth(i).get_by_test_id("line-label").text_content().strip(),
                   rows.nth(i).locator("td").last.text_content().strip()) for i in range(rows.count())]
    assert len(page_lines) == 7  # three members with a seat fee and usage, the owner with a seat fee
    screenshot(page, "invoice-natural-order")

    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Download CSV").click()
    with open(csv_download.value.path(), encoding="utf-8") as downloaded:
        csv_rows = list(csv.DictReader(io.StringIO(downloaded.read())))
    csv_lines = [(r["description"], f"${Decimal(r['amount']):,.2f}") for r in csv_rows
                 if r["kind"] not in ("total", "rounding_rule", "usage_breakdown")]
    assert csv_lines == page_lines
    assert next(r for r in csv_rows if r["kind"] == "total")["amount"] == f"{invoice.total:.2f}"

    with page.expect_download() as pdf_download:
        page.get_by_role("link", name="Download PDF").click()
    pdf_path = tmp_path / "invoice.pdf"
    pdf_download.value.save_as(pdf_path)
    text = subprocess.run(["pdftotext", "-layout", str(pdf_path), "-"], check=True, capture_output=True,
                          text=True).stdout
    members_part = text[text.index("By member"):]
    position = 0
    for description, amount in page_lines:  # every line, in the page's order, with its amount on its row
        match = re.compile(re.escape(description) + r".*?" + re.escape(amount)).search(members_part, position)
        assert match, (description, amount)
        position = match.end()
    assert re.search(r"Total\s+" + re.escape(f"${invoice.total:,.2f}"), text)
