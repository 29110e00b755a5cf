"""Follow-up work after usage is recorded. Safe to run twice: each step claims its work in the database."""

from celery import shared_task
from django.utils import timezone

from .followups import followups_run


@shared_task(acks_late=True)
def usage_followups(organization_id: int, membership_ids: list[int]) -> None:
    """The after-usage steps: auto-reload and the spend-limit notices (see followups.py)."""
    followups_run(organization_id=organization_id, membership_ids=membership_ids, now=timezone.now())
