"""POST /stripe/webhook/: Stripe's events, verified with `stripe.Webhook.construct_event` and the endpoint's
signing secret (STRIPE_WEBHOOK_SECRET). It lives in invoicing, the app above both kinds of payment it settles:

- `invoice.paid` marks the portal's invoice paid (the Stripe invoice carries its number in
  `metadata.billing_portal_invoice`);
- `payment_intent.succeeded` / `payment_failed` whose metadata key starts with "invoice-" settle a card payment
  of an invoice (services.invoice_payment_from_provider);
- `setup_intent.succeeded`, other `payment_intent.succeeded` / `payment_failed` go to extra usage
  (apps/extra_usage/stripe_events.py).

A request without a valid signature (or older than Stripe's 5-minute tolerance) gets a 400 and changes nothing;
other event types are acknowledged and ignored. Every handler is idempotent: Stripe retries and duplicates.
"""

import logging

import stripe
from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.extra_usage.stripe_events import HANDLED, PAYMENT_EVENTS, stripe_event_apply

from .models import Invoice, InvoiceStatus
from .services import invoice_mark_paid, invoice_payment_from_provider

logger = logging.getLogger(__name__)


def _error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": {"message": message}}, status=status)


def _invoice_payment(intent) -> bool:
    return str((intent.get("metadata") or {}).get("idempotency_key") or "").startswith("invoice-")


@csrf_exempt
@require_POST
def stripe_webhook(request):
    secret = settings.STRIPE_WEBHOOK_SECRET
    signature = request.headers.get("Stripe-Signature", "")
    if not secret or not signature:
        return _error("Missing or unconfigured Stripe signature.")
    try:
        event = stripe.Webhook.construct_event(request.body, signature, secret)
    except ValueError:
        return _error("The body is not a Stripe event.")
    except stripe.SignatureVerificationError:
        return _error("The Stripe signature does not match.")
    now = timezone.now()
    if event["type"] == "invoice.paid":
        number = (event["data"]["object"].get("metadata") or {}).get("billing_portal_invoice")
        invoice = Invoice.objects.filter(number=number, status__in=[
            InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE, InvoiceStatus.PAID]).first()
        if invoice is not None:
            invoice_mark_paid(invoice=invoice, now=now, source="stripe")
    elif event["type"] in PAYMENT_EVENTS and _invoice_payment(event["data"]["object"]):
        # A card payment of an invoice (its claim's key in the PaymentIntent's metadata).
        intent = event["data"]["object"]
        invoice_payment_from_provider(
            idempotency_key=intent["metadata"]["idempotency_key"], ok=event["type"] == "payment_intent.succeeded",
            reference=intent.get("id") or "",
            error=(intent.get("last_payment_error") or {}).get("message") or "The payment was declined.", now=now)
    elif event["type"] in HANDLED:
        stripe_event_apply(event=event, now=now)
    return JsonResponse({"received": True})
