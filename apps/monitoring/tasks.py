"""Monitoring tasks. Each takes ids, loads rows, calls one service and is safe to run twice."""

import datetime as dt

from celery import shared_task
from django.utils import timezone

from apps.common.periods import period_containing, previous_month_start
from apps.organizations.models import Organization

from .services import org_daily_refresh, org_daily_stale, organizations_with_usage, spend_notifications_check


@shared_task(acks_late=True)
def org_daily_refresh_task(organization_id: int, period_start: str) -> None:
    """Rebuild one organization's daily totals for one period (idempotent: it replaces, never adds)."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is not None:
        org_daily_refresh(organization=organization, period_start=dt.date.fromisoformat(period_start))


@shared_task(acks_late=True)
def spend_notifications_task(organization_id: int, membership_ids: list[int] | None = None) -> None:
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is not None:
        spend_notifications_check(organization=organization, membership_ids=membership_ids, now=timezone.now())


@shared_task(acks_late=True)
def monitoring_sweep() -> int:
    """Every few minutes: for each organization with usage this period, send any notice a lost follow-up
    missed (every member is checked) and rebuild the daily totals of the current and previous periods when
    they lag the counters. Returns the number of organizations swept."""
    now = timezone.now()
    organizations = organizations_with_usage(now=now)
    for organization in organizations:
        spend_notifications_task.delay(organization.pk, None)
        period = period_containing(now, organization.billing_timezone)
        for start in (previous_month_start(period.start), period.start):
            if org_daily_stale(organization=organization, period_start=start):
                org_daily_refresh_task.delay(organization.pk, start.isoformat())
    return len(organizations)
