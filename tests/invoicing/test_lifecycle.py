"""The invoice lifecycle: open at issue with a due date, bill-to copied from the billing details, a gapless
number per organization; paid (idempotent), uncollectible, void and re-issue (both kept, linked)."""

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from apps.invoicing.models import Invoice, InvoiceDocument, InvoiceStatus
from apps.invoicing.services import (
    billing_details_update,
    invoice_issue_for_period,
    invoice_mark_paid,
    invoice_mark_uncollectible,
    invoice_reissue,
    invoice_void,
    payment_terms_set,
)
from apps.organizations.models import AuditEntry, PlanKind, Role
from apps.usage.models import UsageEvent
from tests.conftest import run_concurrently
from tests.factories import OrganizationFactory, member

from .helpers import at, event

pytestmark = pytest.mark.django_db
OCT, NOV = dt.date(2026, 10, 1), dt.date(2026, 11, 1)
AFTER_NOV = at("UTC", 2026, 12, 1, 0, 20)


@pytest.fixture
def org():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="acme", name="Acme")
    owner = member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER, since=at("UTC", 2026, 9, 1))
    UsageEvent.objects.bulk_create([event(owner, occurred_at=at("UTC", 2026, 11, 3), period_start=NOV,
                                          cost=Decimal("12.345"))])
    org.owner = owner
    return org


def _client(membership):
    client = Client()
    client.force_login(membership.user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_an_issued_invoice_is_open_numbered_due_net_30_and_carries_the_billing_details(org):
    billing_details_update(organization=org, actor=org.owner.user, now=AFTER_NOV, legal_name="Acme Corp Ltd",
                           address="1 Main St\nSpringfield", tax_id="GB123456789", billing_email="AP@acme.example")
    invoice = invoice_issue_for_period(organization=org, period_start=NOV, now=AFTER_NOV)
    assert (invoice.status, invoice.number, invoice.sequence) == (InvoiceStatus.OPEN, "ACME-0001", 1)
    assert invoice.due_date == dt.date(2026, 12, 31)
    assert (invoice.bill_to_name, invoice.bill_to_tax_id, invoice.bill_to_email) == (
        "Acme Corp Ltd", "GB123456789", "ap@acme.example")
    # A later change of the details never rewrites an issued invoice.
    billing_details_update(organization=org, actor=org.owner.user, now=AFTER_NOV, legal_name="Acme Inc",
                           address="", tax_id="", billing_email="")
    invoice.refresh_from_db()
    assert invoice.bill_to_name == "Acme Corp Ltd"
    page = _client(org.owner).get(reverse("invoicing:invoice_detail", kwargs={"slug": "acme", "number": "ACME-0001"}))
    html = page.content.decode()
    assert "Acme Corp Ltd" in html and "GB123456789" in html and "Dec 31, 2026" in html and ">Open<" in html


def test_staff_set_payment_terms_per_organization_audited(org):
    payment_terms_set(organization=org, days=14, actor=None, now=AFTER_NOV)
    invoice = invoice_issue_for_period(organization=org, period_start=NOV, now=AFTER_NOV)
    assert invoice.due_date == dt.date(2026, 12, 15)
    audit = AuditEntry.objects.filter(action="billing_details.payment_terms")
    assert audit.values_list("old_value", "new_value").get() == (30, 14)
    with pytest.raises(ValidationError):
        payment_terms_set(organization=org, days=400, actor=None, now=AFTER_NOV)


def test_mark_paid_is_idempotent_and_audited(org):
    invoice = invoice_issue_for_period(organization=org, period_start=NOV, now=AFTER_NOV)
    paid = invoice_mark_paid(invoice=invoice, now=AFTER_NOV, source="stripe")
    again = invoice_mark_paid(invoice=invoice, now=AFTER_NOV + dt.timedelta(hours=1), source="admin")
    assert (paid.status, again.paid_at, again.payment_source) == (InvoiceStatus.PAID, AFTER_NOV, "stripe")
    assert AuditEntry.objects.filter(action="invoice.paid").count() == 1
    with pytest.raises(ValidationError):
        invoice_void(invoice=invoice, now=AFTER_NOV)  # a paid invoice is final


def test_an_uncollectible_invoice_can_still_be_paid_but_a_void_one_cannot(org):
    invoice = invoice_issue_for_period(organization=org, period_start=NOV, now=AFTER_NOV)
    assert invoice_mark_uncollectible(invoice=invoice, now=AFTER_NOV).status == InvoiceStatus.UNCOLLECTIBLE
    assert invoice_mark_paid(invoice=invoice, now=AFTER_NOV, source="admin").status == InvoiceStatus.PAID
    other = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    voided = invoice_void(invoice=invoice_issue_for_period(organization=other, period_start=NOV, now=AFTER_NOV),
                          now=AFTER_NOV)
    with pytest.raises(ValidationError):
        invoice_mark_paid(invoice=voided, now=AFTER_NOV, source="stripe")


def test_void_and_reissue_keep_both_documents_linked_with_consecutive_numbers(org):
    first = invoice_issue_for_period(organization=org, period_start=NOV, now=AFTER_NOV)
    invoice_void(invoice=first, now=AFTER_NOV, reason="Wrong tax ID")
    second = invoice_reissue(invoice=first, now=AFTER_NOV)
    first.refresh_from_db()
    assert (first.number, first.status, second.number, second.status) == (
        "ACME-0001", InvoiceStatus.VOID, "ACME-0002", InvoiceStatus.OPEN)
    assert second.replaces == first and first.replaced_by == second
    listing = _client(org.owner).get(reverse("invoicing:invoice_list", kwargs={"slug": "acme"})).content.decode()
    assert "ACME-0001" in listing and "ACME-0002" in listing


def test_the_pdf_is_rendered_once_and_served_as_stored(org):
    invoice = invoice_issue_for_period(organization=org, period_start=NOV, now=AFTER_NOV)
    url = reverse("invoicing:invoice_pdf", kwargs={"slug": "acme", "number": invoice.number})
    first = _client(org.owner).get(url)
    document = InvoiceDocument.objects.get(invoice=invoice)
    assert first.content == bytes(document.pdf) and first["X-Content-SHA256"] == document.sha256
    assert hashlib.sha256(first.content).hexdigest() == document.sha256
    InvoiceDocument.objects.filter(pk=document.pk).update(sha256="kept")  # a re-render would change it back
    second = _client(org.owner).get(url)
    assert second.content == first.content and second["X-Content-SHA256"] == "kept"


@pytest.mark.django_db(transaction=True)
def test_numbers_are_gapless_under_concurrent_issuing():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="busy")
    member(org, since=at("UTC", 2025, 1, 1))
    # Eight months issued, then voided, then re-issued by eight threads at once on one sequence.
    invoices = [invoice_issue_for_period(organization=org, period_start=dt.date(2026, m, 1),
                                         now=at("UTC", 2026, m + 1, 1, 1)) for m in range(1, 9)]
    for invoice in invoices:
        invoice_void(invoice=invoice, now=AFTER_NOV)

    def worker(i):
        invoice_reissue(invoice=invoices[i], now=AFTER_NOV)

    run_concurrently(8, worker)
    sequences = sorted(Invoice.objects.filter(organization=org).values_list("sequence", flat=True))
    assert sequences == list(range(1, 17))


def test_billing_details_page_owners_edit_admins_read_with_audit(org, django_assert_max_num_queries):
    admin = member(org, email="admin@acme.example", role=Role.ADMIN)
    plain = member(org, email="m@acme.example", role=Role.MEMBER)
    url = reverse("invoicing:billing_details", kwargs={"slug": "acme"})
    owner = _client(org.owner)
    response = owner.post(url, {"legal_name": "Acme Corp", "address": "1 Main St", "tax_id": "US-1",
                                "billing_email": "not-an-email"})
    assert response.status_code == 200 and "Enter a valid email address." in response.content.decode()
    assert not AuditEntry.objects.filter(action="billing_details.update").exists()
    assert owner.post(url, {"legal_name": "Acme Corp", "address": "1 Main St", "tax_id": "US-1",
                            "billing_email": "ap@acme.example"}).status_code == 302
    entry = AuditEntry.objects.get(action="billing_details.update")
    assert entry.new_value["legal_name"] == "Acme Corp" and entry.old_value["legal_name"] == ""
    assert owner.post(url, {"legal_name": "Acme Corp", "address": "1 Main St", "tax_id": "US-1",
                            "billing_email": "ap@acme.example"}).status_code == 302
    assert AuditEntry.objects.filter(action="billing_details.update").count() == 1  # nothing changed
    page = _client(admin).get(url).content.decode()
    assert "Acme Corp" in page and "managed by the organization's owners" in page and 'name="legal_name"' not in page
    assert _client(admin).post(url, {"legal_name": "X"}).status_code == 403
    assert _client(plain).get(url).status_code == 404
    with django_assert_max_num_queries(12):
        assert owner.get(url).status_code == 200


def test_the_invoice_email_has_both_parts_the_pdf_and_goes_to_the_billing_email_whatever_its_choices(
        org, outbox, django_capture_on_commit_callbacks):
    from email import message_from_bytes

    from apps.notices.models import NoticeKind, NoticeOptOut

    billing_details_update(organization=org, actor=org.owner.user, now=AFTER_NOV, legal_name="Acme Corp",
                           address="", tax_id="", billing_email="ap@acme.example")
    for email in ("ap@acme.example", "owner@acme.example"):  # both switched the invoice email off
        NoticeOptOut.objects.create(email=email, organization=org, kind=NoticeKind.INVOICE_ISSUED,
                                    created_at=AFTER_NOV)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = invoice_issue_for_period(organization=org, period_start=NOV, now=AFTER_NOV)
    (message,) = outbox  # the owner opted out; the billing email cannot
    parsed = message_from_bytes(message.message().as_bytes())
    assert parsed["To"] == "ap@acme.example" and parsed["Subject"] == "Invoice ACME-0001 for November 2026: $32.35"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" and parsed["List-Unsubscribe"]
    parts = {part.get_content_type(): part for part in parsed.walk() if not part.is_multipart()}
    text = parts["text/plain"].get_payload(decode=True).decode()
    html = parts["text/html"].get_payload(decode=True).decode()
    assert "$32.35 USD" in text and "Dec 31, 2026" in text and "cannot be switched off" in text
    assert "/orgs/acme/invoices/ACME-0001/" in text
    assert 'href="http://127.0.0.1:8000/orgs/acme/invoices/ACME-0001/"' in html
    assert parts["application/pdf"].get_filename() == "ACME-0001.pdf"
    assert parts["application/pdf"].get_payload(decode=True) == bytes(invoice.document.pdf)
