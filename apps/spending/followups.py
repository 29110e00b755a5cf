"""The steps run after recorded usage made one due, outside the request's transaction. Each step is idempotent:
it claims its work with a unique row, so a retried or duplicated task does nothing twice.

Auto-reload belongs to extra usage, below spending, and is called directly. Spend notices are sent by
monitoring, which sits above spending (its pages read spend contexts), so monitoring registers that step from
its AppConfig.ready(): spending imports nothing above it, and the recording path stays unaware of email.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from apps.extra_usage.services.auto_reload import auto_reload_check
from apps.organizations.models import Organization

FollowupStep = Callable[..., object]
_steps: list[FollowupStep] = []


def followup_step_register(step: FollowupStep) -> None:
    """Run `step(organization=, membership_ids=, now=)` after each recorded batch that made a follow-up due."""
    if step not in _steps:
        _steps.append(step)


def followups_run(*, organization_id: int, membership_ids: list[int], now: dt.datetime) -> None:
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return
    # Team: buy one auto-reload if this usage brought the prepaid balance to the threshold (claimed once).
    auto_reload_check(organization=organization, now=now)
    # The registered steps: spend-limit notices (80%/100% of members' limits, included usage, the org cap).
    for step in _steps:
        step(organization=organization, membership_ids=membership_ids, now=now)
