"""The steps run after usage is recorded, outside the request's transaction. Each step is idempotent: it
claims its work with a unique row, so a retried or duplicated task does nothing twice."""

from __future__ import annotations

from apps.organizations.models import Organization


def run_followups(*, organization_id: int, membership_ids: list[int]) -> None:
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return
    from django.utils import timezone

    from apps.extra_usage.services.auto_reload import auto_reload_check

    # Team: buy one auto-reload if this usage brought the prepaid balance to the threshold (claimed once).
    auto_reload_check(organization=organization, now=timezone.now())

    from apps.monitoring.services import spend_notifications_check

    # Spend-limit notices (80%/100% of members' limits, included usage, the org cap), each claimed once.
    spend_notifications_check(organization=organization, membership_ids=membership_ids, now=timezone.now())
