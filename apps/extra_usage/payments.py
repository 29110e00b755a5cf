"""The payment-provider interface for prepaid extra usage (Team plans).

A provider charges an organization an amount once per idempotency key: calling `charge` again with the same
key must return the first result and charge nothing more (real card processors offer exactly this). The
portal calls it outside any database transaction, after claiming the charge with a unique row, and settles
the balance only on success (see services.prepaid_purchase and services.auto_reload_check).

The provider in use is named by the PAYMENT_PROVIDER setting (a dotted path to a class).
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.module_loading import import_string


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
    """Records the purchase for invoicing and always succeeds: the amount is billed on the organization's next
    invoice, with this reference. The reference is derived from the idempotency key, so a retry returns the
    same reference (and the invoice shows the purchase once, from its ledger row)."""

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


def payment_provider() -> PaymentProvider:
    """An instance of the provider named by settings.PAYMENT_PROVIDER."""
    path = getattr(settings, "PAYMENT_PROVIDER", "apps.extra_usage.payments.RecordingProvider")
    return import_string(path)()
