"""Billing history: every charge in one list with its reference and receipt (seat upgrades, prepaid purchases,
auto-reloads, invoice payments); owners and admins read it, members and outsiders get a 404; a page is a fixed
number of queries."""

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.extra_usage.models import ChargeKind, PrepaidCharge
from apps.extra_usage.services.auto_reload import auto_reload_configure
from apps.extra_usage.services.prepaid import charge_claim, charge_execute, prepaid_purchase
from apps.extra_usage.services.switches import extra_usage_enable
from apps.invoicing.services import invoice_issue_for_period, invoice_mark_paid
from apps.organizations.models import PlanKind, Role
from apps.seats.models import SeatCharge
from apps.seats.services import seat_assign
from tests.factories import OrganizationFactory, member, tier

from .conftest import client_for

pytestmark = pytest.mark.django_db
UTC = dt.UTC
NOV_20 = dt.datetime(2026, 11, 20, 9, tzinfo=UTC)


@pytest.fixture
def acme(db, provider):
    org = OrganizationFactory(plan_kind=PlanKind.TEAM, slug="acme", billing_timezone="Europe/Berlin")
    owner = member(org, email="owner@acme.test", role=Role.OWNER, since=dt.datetime(2026, 10, 1, tzinfo=UTC))
    return org, owner


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def _charges(org, owner, *, members: int = 1, start: dt.datetime = NOV_20):
    """`members` seat upgrades, a purchase, a failed purchase and an auto-reload."""
    for i in range(members):
        email = f"pat{i}@acme.test" if start == NOV_20 else f"pat{i}-{start:%d}@acme.test"
        pat = member(org, email=email, tier_code="standard", since=dt.datetime(2026, 10, 1, tzinfo=UTC))
        seat_assign(membership=pat, tier=tier(org, "premium"), actor=owner.user, now=start + dt.timedelta(minutes=i))
    prepaid_purchase(organization=org, amount=Decimal("500.00"), idempotency_key=f"buy-{start:%d}", actor=owner.user,
                     now=start + dt.timedelta(hours=1))
    extra_usage_enable(organization=org, actor=owner.user, now=start)
    auto_reload_configure(organization=org, enabled=True, threshold=Decimal("10.00"), amount=Decimal("40.00"),
                          monthly_limit=None, actor=owner.user, now=start)
    charge, _ = charge_claim(organization=org, kind=ChargeKind.AUTO_RELOAD, amount=Decimal("40.00"),
                             idempotency_key=f"reload-{start:%d}", actor=None, now=start + dt.timedelta(hours=2))
    charge_execute(charge=charge, now=start + dt.timedelta(hours=2))


def test_owner_sees_every_charge_with_reference_invoice_and_receipt(acme, provider):
    org, owner = acme
    _charges(org, owner)
    provider.fail = True
    prepaid_purchase(organization=org, amount=Decimal("75.00"), idempotency_key="declined", actor=owner.user,
                     now=NOV_20 + dt.timedelta(hours=3))
    provider.fail = False
    # November's invoice is issued and paid by card.
    invoice = invoice_issue_for_period(organization=org, period_start=dt.date(2026, 11, 1),
                                       now=dt.datetime(2026, 12, 1, 1, tzinfo=UTC))
    invoice_mark_paid(invoice=invoice, now=dt.datetime(2026, 12, 3, 10, tzinfo=UTC), source="stripe")

    response = client_for(owner).get(f"/orgs/{org.slug}/billing/history/")
    assert response.status_code == 200
    page = response.content.decode()
    kinds = re.findall(r'data-kind="(\w+)"', page)
    assert kinds == ["invoice_payment", "purchase", "auto_reload", "purchase", "seat_upgrade"]  # newest first
    text = _text(response)
    seat = SeatCharge.objects.get()
    # Nov 20 in Berlin, 11 of 30 days left of +$120: $44.00.
    assert seat.amount.amount == Decimal("44.00")
    assert (f"Seat upgrade of pat0@acme.test: Standard → Premium, the remaining 11 of 30 days {seat.reference} Paid "
            f"{invoice.number} as already charged $44.00 Receipt") in text
    purchase = PrepaidCharge.objects.get(kind=ChargeKind.PURCHASE, status="succeeded")
    assert f"Prepaid extra usage purchased by owner@acme.test {purchase.payment_reference} Paid" in text
    assert "$500.00" in text and "$40.00" in text
    assert "Failed Your card was declined." in text
    assert f"Payment of invoice {invoice.number} {invoice.number} Paid {invoice.number}" in text
    # Times in the organization's zone, named: 09:00 UTC is 10:00 in Berlin.
    assert "Nov 20, 2026, 10:00 AM (Europe/Berlin)" in text
    assert "Dec 3, 2026, 11:00 AM (Europe/Berlin)" in text

    # Each receipt states who paid what, when, under which reference; a failed attempt has none.
    receipts = re.findall(r'href="(/orgs/acme/billing/history/\w+/\d+/receipt/)"', page)
    assert len(receipts) == 4
    receipt = client_for(owner).get(f"/orgs/{org.slug}/billing/history/seat/{seat.pk}/receipt/")
    assert receipt.status_code == 200
    text = _text(receipt)
    assert f"Receipt {seat.reference}" in text and "Amount paid $44.00" in text
    assert "Nov 20, 2026, 10:00 AM (Europe/Berlin)" in text
    assert f"{invoice.number} — shown as already charged, so it is not billed again" in text
    failed = PrepaidCharge.objects.get(status="failed")
    assert client_for(owner).get(f"/orgs/{org.slug}/billing/history/prepaid/{failed.pk}/receipt/").status_code == 404
    assert client_for(owner).get(f"/orgs/{org.slug}/billing/history/bogus/{seat.pk}/receipt/").status_code == 404


def test_a_charge_not_yet_invoiced_says_it_goes_on_the_next_invoice(acme):
    org, owner = acme
    with time_machine.travel(NOV_20, tick=False):
        _charges(org, owner)
    text = _text(client_for(owner).get(f"/orgs/{org.slug}/billing/history/"))
    assert text.count("on the next invoice, as paid") == 3
    purchase = PrepaidCharge.objects.get(kind=ChargeKind.PURCHASE)
    receipt = _text(client_for(owner).get(f"/orgs/{org.slug}/billing/history/prepaid/{purchase.pk}/receipt/"))
    assert "Amount paid $500.00" in receipt and "Shown on the next invoice as paid, not billed again." in receipt


def test_admins_read_it_members_and_outsiders_get_a_404(acme):
    org, owner = acme
    _charges(org, owner)
    admin = member(org, email="admin@acme.test", role=Role.ADMIN)
    plain = member(org, email="plain@acme.test", role=Role.MEMBER)
    other = OrganizationFactory(plan_kind=PlanKind.TEAM, slug="globex")
    outsider = member(other, email="owner@globex.test", role=Role.OWNER)
    seat = SeatCharge.objects.get()
    assert client_for(admin).get(f"/orgs/{org.slug}/billing/history/").status_code == 200
    assert client_for(admin).get(f"/orgs/{org.slug}/billing/history/seat/{seat.pk}/receipt/").status_code == 200
    assert client_for(plain).get(f"/orgs/{org.slug}/billing/history/").status_code == 404
    assert client_for(outsider).get(f"/orgs/{org.slug}/billing/history/").status_code == 404
    # Another organization's charge through one's own organization's URL is a 404 too.
    assert client_for(outsider).get(f"/orgs/globex/billing/history/seat/{seat.pk}/receipt/").status_code == 404
    # The navigation links it for owners and admins.
    assert 'href="/orgs/acme/billing/history/"' in client_for(admin).get(f"/orgs/{org.slug}/billing/history/"
                                                                          ).content.decode()


def test_the_page_is_a_fixed_number_of_queries(acme):
    org, owner = acme
    _charges(org, owner, members=2, start=NOV_20)
    invoice = invoice_issue_for_period(organization=org, period_start=dt.date(2026, 11, 1),
                                       now=dt.datetime(2026, 12, 1, 1, tzinfo=UTC))
    invoice_mark_paid(invoice=invoice, now=dt.datetime(2026, 12, 3, 10, tzinfo=UTC), source="stripe")
    client = client_for(owner)
    url = f"/orgs/{org.slug}/billing/history/"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    _charges(org, owner, members=12, start=dt.datetime(2026, 12, 10, 9, tzinfo=UTC))
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(re.findall(r'data-testid="charge-row"', response.content.decode())) == (2 + 2) + 1 + (12 + 2)
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    assert len(few) <= 13, [q["sql"] for q in few.captured_queries]


@pytest.mark.parametrize(("language", "words"), [
    ("en", "Charged now to the card on file and added to the prepaid balance at once; shown on your next invoice "
           "as paid, not billed again."),
    ("de", "Wird jetzt der hinterlegten Karte belastet"),
])
def test_the_purchase_modal_says_what_really_happens(acme, language, words):
    org, owner = acme
    client = client_for(owner)
    client.cookies["django_language"] = language
    page = client.get(f"/orgs/{org.slug}/extra-usage/prepaid/purchase/", HTTP_HX_REQUEST="true").content.decode()
    assert words in page and "billed on your next invoice" not in page
