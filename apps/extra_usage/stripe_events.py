"""Stripe's webhooks about prepaid extra usage, applied once verified (the view checks the signature with
`stripe.Webhook.construct_event`; see apps/invoicing/stripe_webhook.py).

- `setup_intent.succeeded`: the card an owner saved through Stripe Checkout becomes the organization's card
  for off-session charges (audited).
- `payment_intent.succeeded` / `payment_intent.payment_failed`: settle the PrepaidCharge whose idempotency key
  the PaymentIntent carries in its metadata, if it is still pending (a charge Stripe answered `processing`, or
  one whose worker died before settling). Settling is the same code as a synchronous answer, and a settled
  charge is never settled again, so Stripe's retries and duplicate events change nothing.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction

from apps.organizations.models import Organization
from apps.organizations.services import audit_record

from .models import ChargeStatus, PrepaidCharge, StripeCustomer
from .payments import PaymentResult
from .services.prepaid import charge_settle

logger = logging.getLogger(__name__)
PAYMENT_EVENTS = ("payment_intent.succeeded", "payment_intent.payment_failed")
HANDLED = ("setup_intent.succeeded", *PAYMENT_EVENTS)


def _organization_id(obj) -> int | None:
    value = (obj.get("metadata") or {}).get("organization_id")
    return int(value) if value and str(value).isdigit() else None


@transaction.atomic
def stripe_card_saved(*, setup_intent, now: dt.datetime) -> StripeCustomer | None:
    """Store the card of a succeeded SetupIntent as the organization's card. Audited when it changes."""
    organization = Organization.objects.filter(pk=_organization_id(setup_intent)).first()
    customer_id, payment_method = setup_intent.get("customer"), setup_intent.get("payment_method")
    if organization is None or not customer_id or not payment_method:
        return None
    row, _ = StripeCustomer.objects.select_for_update().get_or_create(
        organization=organization, defaults={"customer_id": customer_id, "updated_at": now})
    if (row.customer_id, row.payment_method_id) == (customer_id, payment_method):
        return row
    old = row.payment_method_id or None
    row.customer_id, row.payment_method_id, row.updated_at = customer_id, payment_method, now
    row.save(update_fields=["customer_id", "payment_method_id", "updated_at"])
    audit_record(organization=organization, actor=None, actor_label="stripe", action="extra_usage.card",
                 target=customer_id, old=old, new=payment_method, now=now)
    return row


def stripe_payment_settle(*, payment_intent, succeeded: bool, now: dt.datetime) -> PrepaidCharge | None:
    """Settle the pending charge a PaymentIntent paid (or failed); None when there is none or it is settled."""
    metadata = payment_intent.get("metadata") or {}
    charge = PrepaidCharge.objects.filter(organization_id=_organization_id(payment_intent),
                                          idempotency_key=metadata.get("idempotency_key") or "").first()
    if charge is None or charge.status != ChargeStatus.PENDING:
        return None
    error = ((payment_intent.get("last_payment_error") or {}).get("message") or "The payment was declined.")
    result = PaymentResult(ok=succeeded, reference=payment_intent.get("id") or "", error="" if succeeded else error)
    return charge_settle(charge_id=charge.pk, result=result, now=now)


def stripe_event_apply(*, event, now: dt.datetime) -> bool:
    """Apply one verified Stripe event of HANDLED types. Returns whether it changed anything."""
    obj = event["data"]["object"]
    if event["type"] == "setup_intent.succeeded":
        return stripe_card_saved(setup_intent=obj, now=now) is not None
    if event["type"] in PAYMENT_EVENTS:
        return stripe_payment_settle(payment_intent=obj, succeeded=event["type"] == "payment_intent.succeeded",
                                     now=now) is not None
    return False
