"""Notice delivery tasks. Each takes ids, calls one service and is safe to run twice."""

from celery import shared_task
from django.utils import timezone

from . import services
from .services import MAX_RETRIES, RETRY_BACKOFF, RETRY_BACKOFF_MAX


@shared_task(bind=True, acks_late=True, autoretry_for=(Exception,), retry_backoff=RETRY_BACKOFF,
             retry_backoff_max=RETRY_BACKOFF_MAX, retry_jitter=True, max_retries=MAX_RETRIES)
def outbox_deliver(self, email_id: int) -> bool:
    """Send one queued email; a failure is recorded on the row and retried with exponential backoff (about
    30 s, 1 min, 2 min … capped at 1 h; 8 retries). After the last one the row is `failed`, for staff."""
    return services.outbox_deliver(email_id=email_id, now=timezone.now(),
                                   final_attempt=self.request.retries >= self.max_retries)


@shared_task(acks_late=True)
def outbox_sweep() -> int:
    """Beat task (every 5 minutes): re-enqueue emails whose enqueue was lost or whose worker died."""
    return services.outbox_sweep(now=timezone.now())
