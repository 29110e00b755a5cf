"""One invoice per plan, walked in the OS Chromium in English and then in German (the owner's language): the
bill names the seller and the customer, the dates are the billing time zone's local dates with the zone named,
the period reads as a Babel interval, the totals carry the tax as issued, and every fixed string is in the
reader's language. Screenshots: test-output/screenshots/invoice-document-<plan>-<language>.png.
"""

import datetime as dt
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from apps.invoicing.models import TaxRate
from apps.invoicing.services import billing_details_update, invoice_issue_for_period
from apps.organizations.models import PlanKind, Role
from apps.usage.models import UsageEvent
from tests.conftest import login, screenshot
from tests.factories import OrganizationFactory, member

from .helpers import at, event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOV = dt.date(2026, 11, 1)
BERLIN = "Europe/Berlin"

# plan → (slug, country, tax ID, the tax row's label in English and in German, and which seat tier)
PLANS = {
    PlanKind.TEAM: ("acme", "US", "12-3456789", ("Tax", "Steuer"), "standard"),
    PlanKind.ENTERPRISE_SEAT: ("globex", "DE", "DE136695976",
                               ("VAT 0% (reverse charge)",
                                "VAT 0 % (Steuerschuldnerschaft des Leistungsempfängers)"), "premium"),
    PlanKind.ENTERPRISE_USAGE: ("initech", "GB", "GB980780684", ("VAT 20% on", "VAT 20 % auf"), "chat_code"),
}


@pytest.fixture(params=list(PLANS), ids=lambda plan: str(plan))
def plan_invoice(request, db):
    plan = request.param
    # The migration's rates are gone after a transactional test's flush: the rates this test bills by.
    for country, rate in (("DE", "19"), ("GB", "20")):
        TaxRate.objects.update_or_create(country=country, defaults={"name": "VAT", "rate": Decimal(rate)})
    slug, country, tax_id, tax_labels, tier_code = PLANS[plan]
    org = OrganizationFactory(plan_kind=plan, slug=slug, name=slug.title(), billing_timezone=BERLIN)
    owner = member(org, email=f"owner@{slug}.example", role=Role.PRIMARY_OWNER, tier_code=tier_code,
                   since=at("UTC", 2026, 10, 1))
    UsageEvent.objects.bulk_create([event(owner, occurred_at=at(BERLIN, 2026, 11, 12), period_start=NOV,
                                          cost=Decimal("80.5"), included=Decimal("0"))])
    billing_details_update(organization=org, actor=owner.user, now=at("UTC", 2026, 11, 2),
                           legal_name=f"{slug.title()} Holdings", address="1 Example Street\nExample City",
                           country=country, tax_id=tax_id, po_number="PO-77", billing_email=f"ap@{slug}.example")
    invoice = invoice_issue_for_period(organization=org, period_start=NOV, now=at("UTC", 2026, 11, 30, 23, 15))
    return plan, owner, invoice, tax_labels


def test_an_invoice_of_each_plan_reads_like_a_bill_in_english_and_german(page, plan_invoice):
    plan, owner, invoice, tax_labels = plan_invoice
    url = f"/orgs/{invoice.organization.slug}/invoices/{invoice.number}/"
    login(page, owner.user.email)
    page.goto(url)
    expect(page.get_by_test_id("issuer")).to_contain_text("Billing Portal Demo Ltd.")
    expect(page.get_by_test_id("issuer")).to_contain_text("IE1000000H")
    bill_to = page.get_by_test_id("bill-to")
    expect(bill_to).to_contain_text(invoice.bill_to_name)
    expect(bill_to).to_contain_text("PO-77")
    expect(page.get_by_test_id("invoice-issued")).to_have_text("Dec 1, 2026")
    expect(page.get_by_test_id("invoice-due")).to_have_text("Dec 31, 2026")
    expect(page.get_by_test_id("invoice-period")).to_have_text("Nov 1\u2009–\u200930, 2026")
    expect(page.get_by_test_id("invoice-zone")).to_have_text(BERLIN)
    expect(page.get_by_test_id("invoice-tax-label")).to_contain_text(tax_labels[0])
    expect(page.get_by_test_id("invoice-subtotal")).to_have_text(f"${invoice.subtotal:,.2f}")
    expect(page.get_by_test_id("invoice-total")).to_have_text(f"${invoice.total:,.2f}")
    expect(page.get_by_test_id("bank-transfer")).to_contain_text(f"Reference: {invoice.number}")
    expect(page.locator("main")).to_contain_text("Seat fee")
    screenshot(page, f"invoice-document-{plan}-en")

    owner.user.language = "de"
    owner.user.save(update_fields=["language"])
    page.goto(url)
    expect(page.get_by_role("heading", name=f"Rechnung {invoice.number}")).to_be_visible()
    expect(page.get_by_test_id("invoice-issued")).to_have_text("01.12.2026")
    expect(page.get_by_test_id("invoice-due")).to_have_text("31.12.2026")
    expect(page.get_by_test_id("invoice-period")).to_have_text("1.–30. Nov. 2026")
    expect(page.get_by_test_id("invoice-tax-label")).to_contain_text(tax_labels[1])
    expect(page.get_by_test_id("invoice-total")).to_have_text(f"{invoice.total:,.2f} $".replace(
        ",", "X").replace(".", ",").replace("X", "."))
    expect(page.get_by_test_id("bank-transfer")).to_contain_text(f"Verwendungszweck: {invoice.number}")
    main = page.locator("main")
    for german in ("Rechnungsdatum", "Fälligkeitsdatum", "Abrechnungszeitraum", "Zeitzone", "Zwischensumme",
                   "Platzgebühr", "Fälliger Betrag"):
        expect(main).to_contain_text(german)
    expect(main).not_to_contain_text("Seat fee")
    screenshot(page, f"invoice-document-{plan}-de")
