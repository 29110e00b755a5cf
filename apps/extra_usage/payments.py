"""The payment-provider interface for prepaid extra usage (Team plans).

A provider charges an organization an amount once per idempotency key: calling `charge` again with the same
key must return the first result and charge nothing more (real card processors offer exactly this). The
portal calls it outside any database transaction, after claiming the charge with a unique row, and settles
the balance only on success (see services.prepaid_purchase and services.auto_reload_check).

The provider in use is named by the PAYMENT_PROVIDER setting: a dotted path to a class, or "stripe" /
"recording" for the two real ones.
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import StripeCustomer


@dataclass(frozen=True)
class PaymentResult:
    ok: bool
    reference: str = ""
    error: str = ""


class PaymentProvider(ABC):
    """Charge `amount` (dollars, two decimals) to the organization's payment method on file."""

    @abstractmethod
    def charge(self, *, organization, amount: Decimal, description: str, idempotency_key: str) -> PaymentResult:
        """Charge once per idempotency key: a repeated key returns the first result and charges nothing."""


class RecordingProvider(PaymentProvider):
    """Records the charge and always succeeds (no card network: the demo's and local runs' provider): the charge
    is shown on Billing history with this reference and on the organization's next invoice as paid. The
    reference is derived from the idempotency key, so a retry returns the same reference (and the invoice shows
    the purchase once, from its ledger row)."""

    def charge(self, *, organization, amount: Decimal, description: str, idempotency_key: str) -> PaymentResult:
        digest = hashlib.sha256(f"{organization.pk}:{idempotency_key}".encode()).hexdigest()[:24]
        return PaymentResult(ok=True, reference=f"inv_{digest}")


class FailingTestProvider(PaymentProvider):
    """For tests: succeeds like RecordingProvider unless told to fail (`FailingTestProvider.fail = True`), and
    remembers every call, so a test can count charges per idempotency key. Process-wide, thread-safe."""

    fail = False
    error = "Your card was declined."
    calls: list[tuple[int, Decimal, str]] = []
    _lock = threading.Lock()

    @classmethod
    def reset(cls, *, fail: bool = False) -> None:
        with cls._lock:
            cls.fail = fail
            cls.calls = []

    def charge(self, *, organization, amount: Decimal, description: str, idempotency_key: str) -> PaymentResult:
        with self._lock:
            type(self).calls.append((organization.pk, amount, idempotency_key))
        if self.fail:
            return PaymentResult(ok=False, error=self.error)
        return RecordingProvider().charge(
            organization=organization, amount=amount, description=description, idempotency_key=idempotency_key
        )


class PaymentPending(Exception):
    """The provider accepted the charge but has not settled it yet (a PaymentIntent still `processing`). The
    charge stays pending; the provider's webhook settles it (or the sweep asks again with the same key)."""


class StripeProvider(PaymentProvider):
    """Charges the card an owner saved through Stripe Checkout (setup mode), with off-session PaymentIntents
    (`confirm=true`, `off_session=true`) carrying the portal's idempotency key as Stripe's `Idempotency-Key`, so
    a retried charge is the same PaymentIntent. Keys come from the environment (STRIPE_SECRET_KEY).

    Outcomes: `succeeded` → ok with the PaymentIntent id; a card error (declined, authentication required:
    off-session there is nobody to authenticate) → failed with Stripe's message for the customer; `processing`
    → PaymentPending (settled later by the payment_intent.succeeded / payment_failed webhook); a network or
    server error → raised, so the charge stays pending and is retried with the same key."""

    IDEMPOTENCY_PREFIX = "bp"

    def __init__(self):
        if not settings.STRIPE_SECRET_KEY:
            raise ImproperlyConfigured("Environment variable STRIPE_SECRET_KEY is required when "
                                       "PAYMENT_PROVIDER=stripe")
        self.api_key = settings.STRIPE_SECRET_KEY

    def _idempotency_key(self, organization, key: str) -> str:
        # Stripe scopes idempotency keys to the account, ours to the organization: prefix with the organization.
        return f"{self.IDEMPOTENCY_PREFIX}:{organization.pk}:{key}"

    def charge(self, *, organization, amount: Decimal, description: str, idempotency_key: str) -> PaymentResult:
        customer = StripeCustomer.objects.filter(organization=organization).first()
        if customer is None or not customer.payment_method_id:
            return PaymentResult(ok=False, error="No card on file: add a card before buying prepaid usage.")
        cents = int((amount * 100).to_integral_exact())
        try:
            intent = stripe.PaymentIntent.create(
                api_key=self.api_key, idempotency_key=self._idempotency_key(organization, idempotency_key),
                amount=cents, currency=organization.currency.lower(), customer=customer.customer_id,
                payment_method=customer.payment_method_id, off_session=True, confirm=True,
                description=description[:1000],
                metadata={"organization_id": str(organization.pk), "idempotency_key": idempotency_key},
            )
        except stripe.CardError as error:
            intent = getattr(error.error, "payment_intent", None)
            return PaymentResult(ok=False, reference=getattr(intent, "id", "") or "",
                                 error=error.user_message or "Your card was declined.")
        if intent.status == "succeeded":
            return PaymentResult(ok=True, reference=intent.id)
        if intent.status == "processing":
            raise PaymentPending(intent.id)
        return PaymentResult(ok=False, reference=intent.id,
                             error="The card needs the cardholder's confirmation; add the card again.")

    def card_setup_url(self, *, organization, email: str, success_url: str, cancel_url: str) -> str:
        """A Stripe Checkout page (setup mode) where an owner saves a card for off-session charges. Creates the
        organization's Stripe customer on first use (idempotently)."""
        customer = StripeCustomer.objects.filter(organization=organization).first()
        if customer is None:
            created = stripe.Customer.create(
                api_key=self.api_key, idempotency_key=self._idempotency_key(organization, "customer"),
                name=organization.name, email=email, metadata={"organization_id": str(organization.pk)},
            )
            customer, _ = StripeCustomer.objects.get_or_create(
                organization=organization, defaults={"customer_id": created.id, "updated_at": timezone.now()})
        session = stripe.checkout.Session.create(
            api_key=self.api_key, mode="setup", customer=customer.customer_id, currency=organization.currency.lower(),
            payment_method_types=["card"], success_url=success_url, cancel_url=cancel_url,
            setup_intent_data={"metadata": {"organization_id": str(organization.pk)}},
        )
        return session.url


PROVIDER_ALIASES = {
    "stripe": "apps.extra_usage.payments.StripeProvider",
    "recording": "apps.extra_usage.payments.RecordingProvider",
}


def payment_provider() -> PaymentProvider:
    """An instance of the provider named by settings.PAYMENT_PROVIDER."""
    path = getattr(settings, "PAYMENT_PROVIDER", "apps.extra_usage.payments.RecordingProvider")
    return import_string(PROVIDER_ALIASES.get(path, path))()
