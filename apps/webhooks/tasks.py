"""Webhook tasks. Each takes ids (or nothing), calls one service and is safe to run twice."""

from celery import shared_task
from django.utils import timezone

from apps.common.metrics import webhook_attempt_count

from .services import deliveries_due, delivery_attempt


@shared_task(acks_late=True)
def webhook_deliver(delivery_id: int) -> bool:
    """Make the delivery's due attempt (nothing if it is not due, done, or being sent by another worker)."""
    attempt = delivery_attempt(delivery_id=delivery_id, now=timezone.now())
    webhook_attempt_count(attempt)
    return attempt is not None


@shared_task(acks_late=True)
def webhook_deliveries_sweep() -> int:
    """Beat task (every minute): enqueue every delivery whose attempt is due: retries whose time came, a lost
    enqueue, or one a dead worker left leased. Returns how many were enqueued."""
    due = deliveries_due(now=timezone.now())
    for delivery_id in due:
        webhook_deliver.apply_async((delivery_id,))
    return len(due)
