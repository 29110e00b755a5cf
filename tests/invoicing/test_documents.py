"""Invoices as documents: the seller and the customer on the bill, dates in the billing time zone, the computed
"Overdue" status, tax (rate per country, EU reverse charge, stored as issued), credit notes with their own
gapless numbers, payment reminders through the outbox and card payment through the payment provider."""

import datetime as dt
import subprocess
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from apps.common.money import round_to_cents
from apps.invoicing.models import (
    BillingProfile,
    CreditNote,
    Invoice,
    InvoicePayment,
    InvoiceReminder,
    InvoiceStatus,
    PaymentStatus,
    TaxRate,
)
from apps.invoicing.services import (
    billing_details_update,
    credit_note_issue,
    invoice_issue_for_period,
    invoice_reminders_send,
)
from apps.notices.models import EmailOutbox, NoticeKind
from apps.organizations.models import AuditEntry, PlanKind, Role
from apps.usage.models import UsageEvent
from apps.webhooks.models import WebhookEvent
from tests.factories import OrganizationFactory, member
from tests.webhooks.conftest import endpoint_for

from .helpers import at, event

pytestmark = pytest.mark.django_db
NOV = dt.date(2026, 11, 1)
BERLIN = "Europe/Berlin"
# Berlin's November ends at 23:00 UTC on Nov 30; the monthly run issues a quarter of an hour later.
AFTER_NOV_BERLIN = at("UTC", 2026, 11, 30, 23, 15)
VALID_DE_VAT = "DE136695976"
THIN = "\u2009"


@pytest.fixture
def globex():
    # The rates the migration seeds (a transactional test's flush may have removed them).
    for country, rate in (("DE", "19"), ("IE", "23")):
        TaxRate.objects.update_or_create(country=country, defaults={"name": "VAT", "rate": Decimal(rate)})
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="globex", name="Globex",
                              billing_timezone=BERLIN)
    owner = member(org, email="owner@globex.example", role=Role.PRIMARY_OWNER, since=at("UTC", 2026, 9, 1))
    UsageEvent.objects.bulk_create([event(owner, occurred_at=at(BERLIN, 2026, 11, 3), period_start=NOV,
                                          cost=Decimal("100.00"))])
    org.owner = owner
    return org


def _details(org, **kwargs):
    values = {"legal_name": "Globex GmbH", "address": "Friedrichstraße 1\n10117 Berlin", "tax_id": "",
              "billing_email": "ap@globex.example", "country": "DE", "po_number": "PO-4711"}
    values.update(kwargs)
    return billing_details_update(organization=org, actor=org.owner.user, now=AFTER_NOV_BERLIN, **values)


def _client(membership):
    client = Client()
    client.force_login(membership.user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _detail_url(invoice):
    return reverse("invoicing:invoice_detail", kwargs={"slug": invoice.organization.slug, "number": invoice.number})


def _pdf_text(data: bytes) -> str:
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return done.stdout.decode()


def test_the_bill_names_seller_and_customer_and_dates_in_the_billing_time_zone(globex):
    _details(globex)
    invoice = invoice_issue_for_period(organization=globex, period_start=NOV, now=AFTER_NOV_BERLIN)
    # The local date Berlin's November closed, not the UTC date; due = issue date + net 30.
    assert (invoice.issue_date, invoice.due_date) == (dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    assert invoice.issuer["legal_name"] == "Billing Portal Demo Ltd." and invoice.bill_to_po_number == "PO-4711"
    with time_machine.travel(at(BERLIN, 2026, 12, 2, 9), tick=False):
        html = _client(globex.owner).get(_detail_url(invoice)).content.decode()
    for text in ("Billing Portal Demo Ltd.", "IE1000000H", "4 Grand Canal Quay", "IE29AIBK93115212345678",
                 "Globex GmbH", "Germany", "PO-4711", "Dec 1, 2026", "Dec 31, 2026", f"Nov 1{THIN}–{THIN}30, 2026",
                 "Europe/Berlin", f"Reference: {invoice.number}"):
        assert text in html, text
    assert "Nov 30, 2026" not in html
    # The PDF says the same, in the organization's invoice language.
    globex.invoice_language = "de"
    globex.save(update_fields=["invoice_language"])
    from apps.invoicing.exports import invoice_pdf_bytes

    text = _pdf_text(invoice_pdf_bytes(invoice=Invoice.objects.get(pk=invoice.pk)))
    for expected in ("Rechnung", "Billing Portal Demo Ltd.", "Globex GmbH", "01.12.2026", "31.12.2026",
                     "1.–30. Nov. 2026", "Europe/Berlin", "Zwischensumme"):
        assert expected in text, expected


def test_an_open_invoice_past_its_due_date_reads_overdue_everywhere_and_paid_does_not(globex):
    invoice = invoice_issue_for_period(organization=globex, period_start=NOV, now=AFTER_NOV_BERLIN)
    list_url = reverse("invoicing:invoice_list", kwargs={"slug": "globex"})
    with time_machine.travel(at(BERLIN, 2026, 12, 31, 23, 30), tick=False):  # the due date, local
        assert ">Open<" in _client(globex.owner).get(_detail_url(invoice)).content.decode()
    with time_machine.travel(at(BERLIN, 2027, 1, 1, 0, 30), tick=False):  # Dec 31 in UTC, Jan 1 in Berlin
        owner = _client(globex.owner)
        detail = owner.get(_detail_url(invoice)).content.decode()
        listing = owner.get(list_url).content.decode()
        assert 'data-testid="invoice-status">Overdue<' in detail
        assert f'data-testid="status-{invoice.number}">Overdue<' in listing
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.OPEN  # computed, never stored
        Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.PAID, paid_at=AFTER_NOV_BERLIN)
        assert 'data-testid="invoice-status">Paid<' in owner.get(_detail_url(invoice)).content.decode()


def test_tax_per_country_is_stored_as_issued_and_never_recomputed(globex):
    _details(globex)  # Germany, no VAT ID: German VAT
    invoice = invoice_issue_for_period(organization=globex, period_start=NOV, now=AFTER_NOV_BERLIN)
    assert (invoice.tax_name, invoice.tax_rate, invoice.reverse_charge) == ("VAT", Decimal("19.00"), False)
    assert invoice.tax_amount == round_to_cents(invoice.subtotal * Decimal("0.19"))
    assert invoice.total == invoice.subtotal + invoice.tax_amount and invoice.tax_amount > 0
    TaxRate.objects.filter(country="DE").update(rate=Decimal("21"))
    html = _client(globex.owner).get(_detail_url(invoice)).content.decode()
    invoice.refresh_from_db()
    assert invoice.tax_rate == Decimal("19.00")
    assert "VAT 19% on" in html and f"${invoice.tax_amount:,.2f}" in html and f"${invoice.total:,.2f}" in html


def test_an_eu_business_with_a_valid_vat_id_is_billed_under_the_reverse_charge(globex):
    _details(globex, tax_id="de 136 695 976")
    # Checked with python-stdnum, stored compact.
    assert BillingProfile.objects.get(organization=globex).tax_id == VALID_DE_VAT
    invoice = invoice_issue_for_period(organization=globex, period_start=NOV, now=AFTER_NOV_BERLIN)
    assert (invoice.reverse_charge, invoice.tax_rate, invoice.tax_amount) == (True, Decimal(0), Decimal(0))
    assert invoice.total == invoice.subtotal
    html = _client(globex.owner).get(_detail_url(invoice)).content.decode()
    assert "Reverse charge: VAT is to be accounted for by the recipient" in html and VALID_DE_VAT in html


def test_a_customer_in_the_sellers_own_country_pays_domestic_vat_even_with_a_vat_id(globex):
    _details(globex, country="IE", tax_id="IE1000000H")
    invoice = invoice_issue_for_period(organization=globex, period_start=NOV, now=AFTER_NOV_BERLIN)
    assert (invoice.reverse_charge, invoice.tax_rate) == (False, Decimal("23.00"))


def test_a_country_without_a_rate_is_billed_without_tax(globex):
    _details(globex, country="US", tax_id="")
    invoice = invoice_issue_for_period(organization=globex, period_start=NOV, now=AFTER_NOV_BERLIN)
    assert (invoice.tax_amount, invoice.tax_name) == (Decimal(0), "") and invoice.total == invoice.subtotal


def test_a_bad_vat_id_is_refused_with_a_clear_error_and_nothing_changes(globex):
    url = reverse("invoicing:billing_details", kwargs={"slug": "globex"})
    owner = _client(globex.owner)
    form = {"legal_name": "Globex GmbH", "address": "Berlin", "country": "DE", "tax_id": "DE136695975",
            "po_number": "", "billing_email": ""}
    response = owner.post(url, form)
    assert response.status_code == 200 and "This is not a valid tax ID for the billing country." in \
        response.content.decode()
    assert not AuditEntry.objects.filter(action="billing_details.update").exists()
    response = owner.post(url, {**form, "tax_id": "FR40123456824"})
    assert "This VAT ID belongs to another country than the billing country." in response.content.decode()
    assert owner.post(url, {**form, "tax_id": VALID_DE_VAT, "po_number": "PO-1"}).status_code == 302
    entry = AuditEntry.objects.get(action="billing_details.update")
    assert entry.new_value["tax_id"] == VALID_DE_VAT and entry.new_value["po_number"] == "PO-1"
    with pytest.raises(ValidationError):
        _details(globex, tax_id="DE000")


def test_corrections_are_credit_notes_with_their_own_gapless_numbers(globex, django_capture_on_commit_callbacks):
    _details(globex)  # 19 % VAT, credited at the invoice's rate
    invoice = invoice_issue_for_period(organization=globex, period_start=NOV, now=AFTER_NOV_BERLIN)
    total_before = invoice.total
    with django_capture_on_commit_callbacks(execute=True):
        first = credit_note_issue(invoice=invoice, lines=[("Usage billed twice", Decimal("10.00"))],
                                  reason="Duplicate usage", now=AFTER_NOV_BERLIN)
    second = credit_note_issue(invoice=invoice, lines=[("Goodwill", Decimal("5.00"))], reason="Goodwill",
                               now=AFTER_NOV_BERLIN)
    assert (first.number, second.number) == ("GLOBEX-CN-0001", "GLOBEX-CN-0002")
    assert (first.tax_amount, first.total) == (Decimal("1.90"), Decimal("11.90"))
    invoice.refresh_from_db()
    assert invoice.total == total_before and invoice.status == InvoiceStatus.OPEN  # never edited
    with pytest.raises(ValidationError):
        credit_note_issue(invoice=invoice, lines=[("Too much", invoice.total)], reason="x", now=AFTER_NOV_BERLIN)
    with pytest.raises(ValidationError):
        credit_note_issue(invoice=invoice, lines=[("Negative", Decimal("-1"))], reason="x", now=AFTER_NOV_BERLIN)
    assert CreditNote.objects.count() == 2  # a refused credit note takes no number
    third = credit_note_issue(invoice=invoice, lines=[("Rest", Decimal("1.00"))], reason="x", now=AFTER_NOV_BERLIN)
    assert third.number == "GLOBEX-CN-0003"
    assert AuditEntry.objects.filter(action="invoice.credit_note").count() == 3
    owner = _client(globex.owner)
    html = owner.get(_detail_url(invoice)).content.decode()
    due = invoice.total - first.total - second.total - third.total
    assert "Credit note GLOBEX-CN-0001" in html and f"${due:,.2f}" in html
    note_url = reverse("invoicing:credit_note_detail", kwargs={"slug": "globex", "number": first.number})
    page = owner.get(note_url).content.decode()
    assert "Corrects invoice GLOBEX-0001" in page and "Usage billed twice" in page and "−$11.90" in page
    pdf = owner.get(note_url + "pdf/")
    text = _pdf_text(b"".join(pdf.streaming_content) if pdf.streaming else pdf.content)
    assert "GLOBEX-CN-0001" in text and "GLOBEX-0001" in text and "Billing Portal Demo Ltd." in text
    outsider_org = OrganizationFactory(plan_kind=PlanKind.TEAM, slug="initech")
    outsider = member(outsider_org, email="o@initech.example", role=Role.PRIMARY_OWNER)
    assert _client(outsider).get(note_url).status_code == 404
    plain = member(globex, email="m@globex.example", role=Role.MEMBER)
    assert _client(plain).get(note_url).status_code == 404


def test_the_credit_note_page_reads_a_fixed_number_of_queries(globex, django_assert_max_num_queries):
    invoice = invoice_issue_for_period(organization=globex, period_start=NOV, now=AFTER_NOV_BERLIN)
    note = credit_note_issue(invoice=invoice, lines=[(f"Line {i}", Decimal("1.00")) for i in range(5)],
                             reason="Corrections", now=AFTER_NOV_BERLIN)
    url = reverse("invoicing:credit_note_detail", kwargs={"slug": "globex", "number": note.number})
    owner = _client(globex.owner)
    with django_assert_max_num_queries(10):
        assert owner.get(url).status_code == 200


def test_crediting_the_whole_amount_due_settles_the_invoice(globex):
    invoice = invoice_issue_for_period(organization=globex, period_start=NOV, now=AFTER_NOV_BERLIN)
    credit_note_issue(invoice=invoice, lines=[("Cancelled", invoice.subtotal)], reason="Cancelled",
                      now=AFTER_NOV_BERLIN)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.payment_source) == (InvoiceStatus.PAID, "credit_note")


def test_reminders_go_out_before_and_after_the_due_date_once_each_in_the_recipients_language(
        globex, django_capture_on_commit_callbacks):
    _details(globex)
    german = member(globex, email="inhaber@globex.example", role=Role.OWNER)
    german.user.language = "de"
    german.user.save(update_fields=["language"])
    invoice = invoice_issue_for_period(organization=globex, period_start=NOV, now=AFTER_NOV_BERLIN)
    EmailOutbox.objects.all().delete()
    assert invoice_reminders_send(now=at(BERLIN, 2026, 12, 27, 9)) == 0  # 4 days before: too early
    before = at(BERLIN, 2026, 12, 28, 9)
    sent = invoice_reminders_send(now=before)
    assert sent == 3 and invoice_reminders_send(now=before) == 0  # owner, German owner, billing email; once
    subjects = dict(EmailOutbox.objects.filter(kind=NoticeKind.INVOICE_REMINDER).values_list("to_email", "subject"))
    assert subjects["owner@globex.example"] == "Invoice GLOBEX-0001 is due on Dec 31, 2026"
    assert subjects["inhaber@globex.example"] == "Rechnung GLOBEX-0001 ist am 31.12.2026 fällig"
    assert invoice_reminders_send(now=at(BERLIN, 2026, 12, 31, 23)) == 0  # due today: nothing new
    after = at(BERLIN, 2027, 1, 1, 9)
    assert invoice_reminders_send(now=after) == 3 and invoice_reminders_send(now=after) == 0
    overdue = EmailOutbox.objects.get(kind=NoticeKind.INVOICE_REMINDER, to_email="ap@globex.example",
                                      subject__contains="overdue")
    assert "GLOBEX-0001" in overdue.subject
    assert InvoiceReminder.objects.filter(invoice=invoice).count() == 2
    # A paid invoice is not reminded.
    second = member(globex, email="x@globex.example", role=Role.MEMBER)
    assert second and invoice_reminders_send(now=at(BERLIN, 2027, 1, 20, 9)) == 0


def test_an_arrears_invoice_is_paid_by_card_once_and_fires_invoice_paid(globex, provider):
    endpoint_for(globex, "https://93.184.215.14/in")  # a public address: no DNS needed
    invoice = invoice_issue_for_period(organization=globex, period_start=NOV, now=AFTER_NOV_BERLIN)
    owner = _client(globex.owner)
    pay_url = reverse("invoicing:invoice_pay", kwargs={"slug": "globex", "number": invoice.number})
    html = owner.get(_detail_url(invoice)).content.decode()
    assert f"Pay ${invoice.total:,.2f} by card" in html
    provider.reset(fail=True)
    response = owner.post(pay_url, follow=True)
    assert "The card payment did not go through: Your card was declined." in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    provider.reset()
    response = owner.post(pay_url, follow=True)
    assert "the invoice is paid" in response.content.decode()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.payment_source) == (InvoiceStatus.PAID, "card")
    assert [(amount, key) for _, amount, key in provider.calls] == [(invoice.total, f"invoice-{invoice.pk}-2")]
    assert list(InvoicePayment.objects.order_by("id").values_list("status", flat=True)) == [
        PaymentStatus.FAILED, PaymentStatus.SUCCEEDED]
    assert WebhookEvent.objects.filter(organization=globex, event_type="invoice.paid").count() == 1
    # Paying again charges nothing; an admin (read-only) cannot pay; a member gets a 404.
    owner.post(pay_url)
    assert len(provider.calls) == 1
    admin = member(globex, email="admin@globex.example", role=Role.ADMIN)
    plain = member(globex, email="m@globex.example", role=Role.MEMBER)
    assert _client(admin).post(pay_url).status_code == 403
    assert _client(plain).post(pay_url).status_code == 404


def test_the_lines_are_written_in_the_organizations_invoice_language(globex):
    globex.invoice_language = "de"
    globex.save(update_fields=["invoice_language"])
    invoice = invoice_issue_for_period(organization=globex, period_start=NOV, now=AFTER_NOV_BERLIN)
    descriptions = list(invoice.lines.order_by("position").values_list("description", flat=True))
    assert descriptions[0].startswith("Platz ") and "von 30 Tagen" in descriptions[0], descriptions
    assert "Nov 1" not in descriptions[0] and "1.–30. Nov." in descriptions[0]
