"""Paying an arrears invoice by card against the local Stripe fake (tests/extra_usage/stripe_fake.py, which
validates the parameters as Stripe does): a PaymentIntent on the saved card with the claim's key as Stripe's
Idempotency-Key; a PaymentIntent Stripe is still processing is settled by the signed payment_intent webhook;
the portal's `invoice.paid` webhook fires once."""

import datetime as dt
from decimal import Decimal

import pytest
import stripe
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.extra_usage.models import StripeCustomer
from apps.invoicing.models import InvoicePayment, InvoiceStatus, PaymentStatus
from apps.invoicing.services import invoice_issue_for_period
from apps.organizations.models import PlanKind, Role
from apps.usage.models import UsageEvent
from apps.webhooks.models import WebhookEvent
from tests.extra_usage import stripe_fake
from tests.extra_usage.test_stripe_webhook import SECRET, event, post
from tests.factories import OrganizationFactory, member
from tests.webhooks.conftest import endpoint_for

from .helpers import at
from .helpers import event as usage_event

pytestmark = pytest.mark.django_db
NOV = dt.date(2026, 11, 1)


@pytest.fixture
def fake_stripe(settings):
    fake = stripe_fake.start()
    api_base = stripe.api_base
    stripe.api_base = fake.url
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_local"
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    yield fake
    stripe.api_base = api_base
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def billed():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="initech", name="Initech")
    owner = member(org, email="owner@initech.example", role=Role.PRIMARY_OWNER, since=at("UTC", 2026, 9, 1))
    UsageEvent.objects.bulk_create([usage_event(owner, occurred_at=at("UTC", 2026, 11, 3), period_start=NOV,
                                                cost=Decimal("41.005"))])
    StripeCustomer.objects.create(organization=org, customer_id="cus_initech", payment_method_id="pm_card_visa",
                                  updated_at=timezone.now())
    endpoint_for(org, "https://93.184.215.14/in")
    invoice = invoice_issue_for_period(organization=org, period_start=NOV, now=at("UTC", 2026, 12, 1, 0, 20))
    client = Client()
    client.force_login(owner.user, backend="django.contrib.auth.backends.ModelBackend")
    return invoice, client, reverse("invoicing:invoice_pay", kwargs={"slug": "initech", "number": invoice.number})


def test_an_invoice_is_paid_with_a_payment_intent_on_the_saved_card(fake_stripe, billed):
    invoice, client, pay_url = billed
    response = client.post(pay_url, follow=True)
    assert "the invoice is paid" in response.content.decode()
    (call,) = fake_stripe.calls_to("/v1/payment_intents")
    assert call.form["amount"] == str(int(invoice.total * 100)) and call.form["currency"] == "usd"
    assert (call.form["customer"], call.form["payment_method"]) == ("cus_initech", "pm_card_visa")
    assert (call.form["off_session"], call.form["confirm"]) == ("true", "true")
    assert call.form["metadata[idempotency_key]"] == f"invoice-{invoice.pk}-1"
    assert call.headers["idempotency-key"] == f"bp:{invoice.organization_id}:invoice-{invoice.pk}-1"
    invoice.refresh_from_db()
    assert (invoice.status, invoice.payment_source) == (InvoiceStatus.PAID, "card")
    payment = InvoicePayment.objects.get()
    assert (payment.status, payment.reference, payment.amount) == (PaymentStatus.SUCCEEDED, payment.reference,
                                                                   invoice.total)
    assert payment.reference.startswith("pi_test")
    assert list(WebhookEvent.objects.filter(organization=invoice.organization).values_list(
        "event_type", "payload__source")) == [("invoice.paid", "card"), ("invoice.issued", None)]


def test_a_declined_card_leaves_the_invoice_open_with_stripes_message(fake_stripe, billed):
    invoice, client, pay_url = billed
    fake_stripe.outcomes = ["declined"]
    page = client.post(pay_url, follow=True).content.decode()
    assert "Your card has insufficient funds." in page
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert InvoicePayment.objects.get().status == PaymentStatus.FAILED


def test_a_payment_stripe_is_still_processing_is_settled_by_its_webhook_once(fake_stripe, billed, client):
    invoice, owner, pay_url = billed
    fake_stripe.outcomes = ["processing"]
    page = owner.post(pay_url, follow=True).content.decode()
    assert "being processed" in page
    payment = InvoicePayment.objects.get()
    assert payment.status == PaymentStatus.PENDING
    owner.post(pay_url)  # a second click while pending reuses the claim: the same key, Stripe replays
    assert {c.headers["idempotency-key"] for c in fake_stripe.calls_to("/v1/payment_intents")} == {
        f"bp:{invoice.organization_id}:invoice-{invoice.pk}-1"}
    intent = {"id": "pi_test_async", "object": "payment_intent", "status": "succeeded",
              "metadata": {"organization_id": str(invoice.organization_id), "idempotency_key": payment.idempotency_key}}
    for _ in range(2):  # Stripe delivers twice: settled once
        assert post(client, event("payment_intent.succeeded", intent)).status_code == 200
    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert (invoice.status, payment.status, payment.reference) == (InvoiceStatus.PAID, PaymentStatus.SUCCEEDED,
                                                                   "pi_test_async")
    assert WebhookEvent.objects.filter(organization=invoice.organization, event_type="invoice.paid").count() == 1


def test_the_fake_refuses_what_stripe_refuses(fake_stripe):
    with pytest.raises(stripe.InvalidRequestError) as small:
        stripe.PaymentIntent.create(api_key="sk_test_local", amount=49, currency="usd")
    assert small.value.param == "amount" and small.value.code == "amount_too_small"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        stripe.PaymentIntent.create(api_key="sk_test_local", amount=500, currency="usd", colour="blue")
    assert unknown.value.param == "colour"
    with pytest.raises(stripe.InvalidRequestError) as session:
        stripe.PaymentIntent.create(api_key="sk_test_local", amount=500, currency="usd", off_session=True)
    assert session.value.param == "off_session"
    with pytest.raises(stripe.InvalidRequestError) as metadata:
        stripe.PaymentIntent.create(api_key="sk_test_local", amount=500, currency="usd",
                                    metadata={"k" * 41: "v"})
    assert metadata.value.param.startswith("metadata[")
    with pytest.raises(stripe.InvalidRequestError):
        stripe.checkout.Session.create(api_key="sk_test_local", mode="payment", success_url="https://x.example/")


def test_an_amount_under_stripes_minimum_is_refused_before_calling_stripe(fake_stripe, billed):
    invoice, client, pay_url = billed
    from apps.invoicing.models import Invoice

    Invoice.objects.filter(pk=invoice.pk).update(total=Decimal("0.40"))
    page = client.post(pay_url, follow=True).content.decode()
    assert "Amounts under $0.50 cannot be paid by card" in page and not fake_stripe.calls
