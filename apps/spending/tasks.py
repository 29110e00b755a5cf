"""Follow-up work after usage is recorded. Safe to run twice: each step claims its work in the database."""

from celery import shared_task
from django.utils import timezone

from apps.extra_usage.selectors import organizations_with_pending_requests
from apps.extra_usage.services.digest import digest_send_for_organization
from apps.organizations.models import Organization

from .followups import followups_run
from .requests import requests_close_no_longer_needed


@shared_task(acks_late=True)
def usage_followups(organization_id: int, membership_ids: list[int]) -> None:
    """The after-usage steps: auto-reload and the spend-limit notices (see followups.py)."""
    followups_run(organization_id=organization_id, membership_ids=membership_ids, now=timezone.now())


@shared_task(acks_late=True)
def digest_send_daily() -> None:
    """Once a day (beat): one digest task per organization with pending requests."""
    for organization_id in organizations_with_pending_requests():
        digest_send_organization_task.delay(organization_id)


@shared_task(acks_late=True)
def digest_send_organization_task(organization_id: int) -> None:
    """Close the organization's requests no longer needed (admission allows their member again), then send
    the digest of those still pending to each of its admins, once per local day."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is not None:
        now = timezone.now()
        requests_close_no_longer_needed(organization=organization, now=now)
        digest_send_for_organization(organization=organization, now=now)
