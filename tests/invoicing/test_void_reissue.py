"""Staff void and re-issue invoices; both are audited and the re-issue is a new document referencing the
voided one, computed over the same usage window."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from djmoney.money import Money

from apps.invoicing.models import Invoice, InvoiceRunClaim, InvoiceStatus
from apps.invoicing.services import invoice_issue_for_period, invoice_reissue, invoice_void
from apps.organizations.models import AuditEntry, PlanKind
from apps.seats.models import SeatTier
from apps.usage.models import UsageEvent
from tests.factories import OrganizationFactory, UserFactory, login_verified, member

from .helpers import at, event

pytestmark = pytest.mark.django_db

NOV = dt.date(2026, 11, 1)
NOW = at("UTC", 2026, 12, 2, 9)


@pytest.fixture
def issued():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    m = member(org, tier_code="chat", since=at("UTC", 2026, 10, 1))
    UsageEvent.objects.bulk_create([event(m, occurred_at=at("UTC", 2026, 11, 5), period_start=NOV,
                                          cost=Decimal("3.333"))])
    return invoice_issue_for_period(organization=org, period_start=NOV, now=at("UTC", 2026, 12, 1, 0, 20))


def test_void_then_reissue_makes_a_new_numbered_invoice_that_references_the_old(issued):
    staff = UserFactory(email="staff@billing.example", is_staff=True)
    # Staff correct the tier's fee before re-issuing.
    SeatTier.objects.filter(organization=issued.organization, code="chat").update(monthly_fee=Money("18", "USD"))
    # Usage received after the invoice's cutoff must not move into the re-issue.
    UsageEvent.objects.bulk_create([event(issued.lines.first().membership, occurred_at=at("UTC", 2026, 11, 30),
                                          received_at=at("UTC", 2026, 12, 1, 8), period_start=NOV, cost=Decimal("9"))])

    invoice_void(invoice=issued, actor=staff, reason="Wrong seat price", now=NOW)
    new = invoice_reissue(invoice=issued, actor=staff, now=NOW)

    issued.refresh_from_db()
    assert issued.status == InvoiceStatus.VOID and issued.void_reason == "Wrong seat price"
    assert new.status == InvoiceStatus.OPEN and new.replaces == issued and new.number != issued.number
    assert (new.usage_from, new.usage_cutoff) == (issued.usage_from, issued.usage_cutoff)
    assert issued.total == Decimal("23.33") and new.total == Decimal("21.33")
    assert InvoiceRunClaim.objects.get(organization=issued.organization).invoice == new
    audit = list(AuditEntry.objects.filter(organization=issued.organization, action__startswith="invoice.")
                 .order_by("id").values_list("action", "target", "actor_label"))
    assert audit == [("invoice.void", issued.number, "staff@billing.example"),
                     ("invoice.reissue", new.number, "staff@billing.example")]


def test_reissue_needs_a_void_invoice_and_happens_once(issued):
    with pytest.raises(ValidationError, match="Void the invoice"):
        invoice_reissue(invoice=issued, now=NOW)
    invoice_void(invoice=issued, now=NOW)
    invoice_reissue(invoice=issued, now=NOW)
    with pytest.raises(ValidationError, match="already been re-issued"):
        invoice_reissue(invoice=issued, now=NOW)
    assert Invoice.objects.filter(organization=issued.organization, status=InvoiceStatus.OPEN).count() == 1
    # The monthly run still returns the live invoice and issues nothing new.
    again = invoice_issue_for_period(organization=issued.organization, period_start=NOV, now=NOW)
    assert again.replaces == issued


def test_admin_actions_void_and_reissue(issued, client):
    admin_user = UserFactory(email="root@billing.example", is_staff=True, is_superuser=True)
    login_verified(client, admin_user)
    url = reverse("admin:invoicing_invoice_changelist")

    response = client.post(url, {"action": "void_invoices", "_selected_action": [issued.pk]}, follow=True)
    assert response.status_code == 200
    issued.refresh_from_db()
    assert issued.status == InvoiceStatus.VOID
    response = client.post(url, {"action": "reissue_invoices", "_selected_action": [issued.pk]}, follow=True)
    new = Invoice.objects.get(replaces=issued)
    assert f"re-issued as {new.number}" in response.content.decode()
    assert AuditEntry.objects.filter(action__in=["invoice.void", "invoice.reissue"], actor=admin_user).count() == 2

    # The change page shows the document and its lines, read-only.
    page = client.get(reverse("admin:invoicing_invoice_change", args=[new.pk]))
    assert page.status_code == 200 and new.number in page.content.decode()
