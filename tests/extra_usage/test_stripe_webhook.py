"""POST /stripe/webhook/: events are verified for real with stripe.Webhook.construct_event against signatures
computed here as Stripe documents them (HMAC-SHA256 of "<t>.<body>" with the endpoint secret); a bad, missing or
stale signature is a 400 that changes nothing; each handled event is applied once."""

import datetime as dt
import hashlib
import hmac
import json
import time
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.extra_usage.models import (
    ChargeStatus,
    ExtraUsageSettings,
    LedgerKind,
    PrepaidCharge,
    PrepaidLedgerEntry,
    StripeCustomer,
)
from apps.invoicing.models import InvoiceStatus
from apps.invoicing.services import invoice_issue_for_period
from apps.organizations.models import AuditEntry, PlanKind, Role
from apps.webhooks.models import WebhookEvent
from tests.extra_usage.conftest import assert_ledger_invariant
from tests.factories import OrganizationFactory, member
from tests.webhooks.conftest import endpoint_for

pytestmark = pytest.mark.django_db
SECRET = "whsec_stripe_local_test_secret"
URL = "/stripe/webhook/"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = SECRET


def signed(body: bytes, *, secret: str = SECRET, at: int | None = None) -> str:
    t = at if at is not None else int(time.time())
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def post(client, event: dict, **kwargs):
    body = json.dumps(event).encode()
    return client.post(URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signed(body, **kwargs))


def event(kind: str, obj: dict) -> dict:
    return {"id": f"evt_{kind}", "object": "event", "type": kind, "api_version": "2025-09-30.clover",
            "created": int(time.time()), "livemode": False, "data": {"object": obj}}


def pending_charge(org, key="purchase:first", amount="50.00"):
    ExtraUsageSettings.objects.get_or_create(organization=org)
    return PrepaidCharge.objects.create(organization=org, kind="purchase", amount=Decimal(amount),
                                        idempotency_key=key, period_start=timezone.now().date().replace(day=1),
                                        created_at=timezone.now())


def intent(org, key="purchase:first", **extra) -> dict:
    return {"id": "pi_3Test", "object": "payment_intent", "amount": 5000, "currency": "usd",
            "metadata": {"organization_id": str(org.pk), "idempotency_key": key}, **extra}


@pytest.mark.parametrize("header", ["", "t=1,v1=deadbeef", None])
def test_a_missing_or_wrong_signature_is_refused_and_changes_nothing(client, team, header):
    org = team[0]
    charge = pending_charge(org)
    body = json.dumps(event("payment_intent.succeeded", intent(org, status="succeeded"))).encode()
    headers = {} if header is None else {"HTTP_STRIPE_SIGNATURE": header}
    response = client.post(URL, data=body, content_type="application/json", **headers)
    assert response.status_code == 400 and "error" in response.json()
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.PENDING


def test_a_signature_made_with_another_secret_or_too_old_is_refused(client, team):
    org = team[0]
    charge = pending_charge(org)
    body = event("payment_intent.succeeded", intent(org, status="succeeded"))
    assert post(client, body, secret="whsec_someone_else").status_code == 400
    assert post(client, body, at=int(time.time()) - 600).status_code == 400  # beyond Stripe's 5-minute tolerance
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.PENDING


def test_a_signed_body_that_is_not_json_is_a_400(client):
    body = b"not json"
    response = client.post(URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signed(body))
    assert response.status_code == 400


def test_payment_intent_succeeded_settles_the_pending_charge_once(client, team):
    org = team[0]
    charge = pending_charge(org)
    for _ in range(2):  # Stripe delivers at least once
        assert post(client, event("payment_intent.succeeded", intent(org, status="succeeded"))).status_code == 200
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.SUCCEEDED and charge.payment_reference == "pi_3Test"
    assert PrepaidLedgerEntry.objects.filter(organization=org, kind=LedgerKind.PURCHASE).count() == 1
    assert assert_ledger_invariant(org) == Decimal("50.00")


def test_payment_intent_payment_failed_fails_the_pending_charge(client, team):
    org = team[0]
    charge = pending_charge(org)
    failed = intent(org, status="requires_payment_method",
                    last_payment_error={"type": "card_error", "code": "card_declined",
                                        "message": "Your card was declined."})
    assert post(client, event("payment_intent.payment_failed", failed)).status_code == 200
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.FAILED and charge.error == "Your card was declined."
    assert assert_ledger_invariant(org) == Decimal("0")


def test_setup_intent_succeeded_saves_the_card_for_off_session_charges(client, team):
    org = team[0]
    setup = {"id": "seti_1", "object": "setup_intent", "status": "succeeded", "customer": "cus_acme",
             "payment_method": "pm_1Card", "usage": "off_session", "metadata": {"organization_id": str(org.pk)}}
    assert post(client, event("setup_intent.succeeded", setup)).status_code == 200
    assert post(client, event("setup_intent.succeeded", setup)).status_code == 200
    saved = StripeCustomer.objects.get(organization=org)
    assert (saved.customer_id, saved.payment_method_id) == ("cus_acme", "pm_1Card")
    assert AuditEntry.objects.filter(organization=org, action="extra_usage.card").count() == 1


def test_invoice_paid_marks_the_portals_invoice_paid_and_emits_invoice_paid(client):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="billed")
    member(org, email="owner@billed.example", role=Role.PRIMARY_OWNER, since=dt.datetime(2026, 9, 1, tzinfo=dt.UTC))
    endpoint_for(org, "https://93.184.215.14/in")  # a public address: no DNS needed
    invoice = invoice_issue_for_period(organization=org, period_start=dt.date(2026, 10, 1),
                                       now=dt.datetime(2026, 11, 1, 1, tzinfo=dt.UTC))
    stripe_invoice = {"id": "in_1", "object": "invoice", "status": "paid", "amount_paid": 0,
                      "metadata": {"billing_portal_invoice": invoice.number}}
    assert post(client, event("invoice.paid", stripe_invoice)).status_code == 200
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert list(WebhookEvent.objects.filter(organization=org).values_list("event_type", flat=True)) == [
        "invoice.paid", "invoice.issued"]


def test_other_event_types_are_acknowledged_and_ignored(client, team):
    response = post(client, event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert response.status_code == 200 and response.json() == {"received": True}
