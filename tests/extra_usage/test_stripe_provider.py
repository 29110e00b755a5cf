"""StripeProvider's calls, made by the official `stripe` SDK against a local server that answers with Stripe's
documented responses (tests/extra_usage/stripe_fake.py; stripe.api_base points at it). Stripe itself is not
reached from this machine: see the README's "Stripe" section for what that leaves unproven."""

import datetime as dt
from decimal import Decimal

import pytest
import stripe
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from apps.extra_usage.models import ChargeStatus, LedgerKind, PrepaidLedgerEntry, StripeCustomer
from apps.extra_usage.payments import StripeProvider, payment_provider
from apps.extra_usage.services.auto_reload import auto_reload_check, auto_reload_configure, auto_reload_resume_stale
from apps.extra_usage.services.prepaid import STALE_CHARGE_AFTER, prepaid_purchase
from apps.extra_usage.services.switches import extra_usage_enable
from tests.extra_usage import stripe_fake
from tests.extra_usage.conftest import assert_ledger_invariant, spend

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_stripe(settings):
    fake = stripe_fake.start()
    api_base, retries = stripe.api_base, stripe.max_network_retries
    stripe.api_base = fake.url
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_local"
    yield fake
    stripe.api_base, stripe.max_network_retries = api_base, retries
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def carded(team):
    org = team[0]
    StripeCustomer.objects.create(organization=org, customer_id="cus_acme", payment_method_id="pm_card_visa",
                                  updated_at=timezone.now())
    return team


def test_stripe_is_selected_by_payment_provider_stripe_and_needs_its_key(fake_stripe, settings):
    assert isinstance(payment_provider(), StripeProvider)
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(ImproperlyConfigured, match="STRIPE_SECRET_KEY"):
        payment_provider()


def test_a_purchase_is_an_off_session_payment_intent_carrying_the_idempotency_key(fake_stripe, carded):
    org, owner, _, _ = carded
    charge = prepaid_purchase(organization=org, amount=Decimal("50.00"), idempotency_key="first", actor=owner.user,
                              now=timezone.now())
    assert charge.status == ChargeStatus.SUCCEEDED and charge.payment_reference.startswith("pi_test")
    assert assert_ledger_invariant(org) == Decimal("50.00")
    [call] = fake_stripe.calls_to("/v1/payment_intents")
    assert call.headers["authorization"] == "Bearer sk_test_local"
    assert call.headers["idempotency-key"] == f"bp:{org.pk}:purchase:first"
    assert {k: call.form[k] for k in ("amount", "currency", "customer", "payment_method", "off_session",
                                      "confirm")} == {"amount": "5000", "currency": "usd", "customer": "cus_acme",
                                                      "payment_method": "pm_card_visa", "off_session": "true",
                                                      "confirm": "true"}
    assert call.form["metadata[idempotency_key]"] == "purchase:first"
    assert call.form["metadata[organization_id]"] == str(org.pk)
    # A double submit charges nothing more.
    prepaid_purchase(organization=org, amount=Decimal("50.00"), idempotency_key="first", actor=owner.user,
                     now=timezone.now())
    assert len(fake_stripe.calls_to("/v1/payment_intents")) == 1


def test_an_auto_reload_is_charged_through_stripe_with_the_reload_key(fake_stripe, carded):
    org, owner, _, _ = carded
    now = timezone.now()
    prepaid_purchase(organization=org, amount=Decimal("50.00"), idempotency_key="first", actor=owner.user, now=now)
    extra_usage_enable(organization=org, actor=owner.user, now=now)
    auto_reload_configure(organization=org, enabled=True, threshold=Decimal("10"), amount=Decimal("40"),
                          monthly_limit=None, actor=owner.user, now=now)
    spend(org, "dev@team.example", "25.00")
    spend(org, "dev@team.example", "40.00")
    charge = auto_reload_check(organization=org, now=timezone.now())
    assert charge.status == ChargeStatus.SUCCEEDED
    call = fake_stripe.calls_to("/v1/payment_intents")[-1]
    assert call.headers["idempotency-key"] == f"bp:{org.pk}:{charge.idempotency_key}"
    assert call.form["amount"] == "4000"
    assert PrepaidLedgerEntry.objects.get(organization=org, kind=LedgerKind.AUTO_RELOAD).payment_reference == \
        charge.payment_reference


def test_a_declined_card_fails_the_purchase_with_stripes_message_and_changes_no_balance(fake_stripe, carded):
    org, owner, _, _ = carded
    fake_stripe.outcomes = ["declined"]
    charge = prepaid_purchase(organization=org, amount=Decimal("50.00"), idempotency_key="first", actor=owner.user,
                              now=timezone.now())
    assert charge.status == ChargeStatus.FAILED and charge.error == "Your card has insufficient funds."
    assert assert_ledger_invariant(org) == Decimal("0")


def test_a_stripe_outage_leaves_the_charge_pending_and_the_retry_reuses_the_key(fake_stripe, carded):
    org, owner, _, _ = carded
    stripe.max_network_retries = 1
    fake_stripe.outcomes = ["error", "error", "succeeded"]
    now = timezone.now()
    charge = prepaid_purchase(organization=org, amount=Decimal("50.00"), idempotency_key="first", actor=owner.user,
                              now=now)
    assert charge.status == ChargeStatus.PENDING and assert_ledger_invariant(org) == Decimal("0")
    assert auto_reload_resume_stale(now=now + STALE_CHARGE_AFTER + dt.timedelta(seconds=1)) == 1
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.SUCCEEDED and assert_ledger_invariant(org) == Decimal("50.00")
    keys = {c.headers["idempotency-key"] for c in fake_stripe.calls_to("/v1/payment_intents")}
    assert len(fake_stripe.calls_to("/v1/payment_intents")) == 3 and keys == {f"bp:{org.pk}:purchase:first"}


def test_a_processing_payment_stays_pending_until_its_webhook(fake_stripe, carded):
    org, owner, _, _ = carded
    fake_stripe.outcomes = ["processing"]
    charge = prepaid_purchase(organization=org, amount=Decimal("50.00"), idempotency_key="first", actor=owner.user,
                              now=timezone.now())
    assert charge.status == ChargeStatus.PENDING  # settled by payment_intent.succeeded (test_stripe_webhook.py)


def test_without_a_saved_card_the_purchase_fails_and_stripe_is_not_called(fake_stripe, team):
    org, owner, _, _ = team
    charge = prepaid_purchase(organization=org, amount=Decimal("50.00"), idempotency_key="first", actor=owner.user,
                              now=timezone.now())
    assert charge.status == ChargeStatus.FAILED and "No card on file" in charge.error
    assert fake_stripe.calls == []


def test_an_owner_saves_a_card_through_stripe_checkout_in_setup_mode(fake_stripe, team, client):
    org, owner, admin, _ = team
    client.force_login(owner.user)
    response = client.post(f"/orgs/{org.slug}/extra-usage/card/")
    assert response.status_code == 302 and response["Location"].startswith("https://checkout.stripe.com/c/pay/")
    [customer] = fake_stripe.calls_to("/v1/customers")
    assert customer.form["metadata[organization_id]"] == str(org.pk)
    assert customer.headers["idempotency-key"] == f"bp:{org.pk}:customer"
    [session] = fake_stripe.calls_to("/v1/checkout/sessions")
    assert session.form["mode"] == "setup" and session.form["customer"] == customer_id(org)
    assert session.form["setup_intent_data[metadata][organization_id]"] == str(org.pk)
    assert session.form["success_url"].endswith(f"/orgs/{org.slug}/extra-usage/?card=saved")
    client.post(f"/orgs/{org.slug}/extra-usage/card/")
    assert len(fake_stripe.calls_to("/v1/customers")) == 1  # one customer per organization
    client.force_login(admin.user)
    assert client.post(f"/orgs/{org.slug}/extra-usage/card/").status_code == 403


def customer_id(org) -> str:
    return StripeCustomer.objects.get(organization=org).customer_id


def test_payment_provider_stripe_without_a_key_stops_the_process_at_start():
    from tests.common.test_settings_env import start

    result = start(PAYMENT_PROVIDER="stripe", STRIPE_SECRET_KEY="")
    assert result.returncode != 0 and "started" not in result.stdout
    assert "STRIPE_SECRET_KEY is required when PAYMENT_PROVIDER=stripe" in result.stderr.strip().splitlines()[-1]
    assert "started" in start(PAYMENT_PROVIDER="stripe", STRIPE_SECRET_KEY="sk_test_x").stdout
    assert "started" in start(WEBHOOKS_REQUIRE_HTTPS="false").stdout
    assert "WEBHOOKS_REQUIRE_HTTPS" in start(WEBHOOKS_REQUIRE_HTTPS="sometimes").stderr
