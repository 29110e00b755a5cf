"""Extra-usage tasks (the daily digest of requests is spending's: it first closes what is no longer needed).
Each takes ids, loads its rows (returning quietly when they are gone), calls one service,
and is safe to run twice: the services claim their work with unique rows."""

from celery import shared_task
from django.utils import timezone

from apps.organizations.models import Organization

from .selectors import organizations_due_for_reload
from .services.auto_reload import auto_reload_check, auto_reload_resume_stale
from .services.usage_requests import request_decision_notify


@shared_task(acks_late=True)
def auto_reload_task(organization_id: int) -> None:
    """Buy the organization's auto-reload if its balance is at or below the threshold (at most one per crossing)."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is not None:
        auto_reload_check(organization=organization, now=timezone.now())


@shared_task(acks_late=True)
def auto_reload_sweep() -> None:
    """Every minute (beat): finish charges a dead worker left pending, and check every Team organization at or
    below its threshold, so a reload whose after-usage task was lost is still bought."""
    auto_reload_resume_stale(now=timezone.now())
    for organization_id in organizations_due_for_reload():
        auto_reload_task.delay(organization_id)


@shared_task(acks_late=True)
def request_decision_notify_task(request_id: int) -> None:
    """Email a member the decision on their request (once, whatever the number of runs)."""
    request_decision_notify(request_id=request_id, now=timezone.now())
