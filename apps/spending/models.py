"""Spending's one table: the percentages at which spend notices are due (part of a member's spend context).

The table was created by the monitoring app and moved here without touching the database (state-only
migrations, the table keeps its name): threshold detection on the recording path reads it, and that path sits
below monitoring, which sends the notices.
"""

from django.db import models

from apps.organizations.models import Organization

DEFAULT_THRESHOLDS = (80, 100)


def default_thresholds() -> list[int]:
    return list(DEFAULT_THRESHOLDS)


class NotificationSettings(models.Model):
    """The percentages of a limit at which spend notices are sent (each at most once per period and scope).
    Organizations without a row use DEFAULT_THRESHOLDS."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    thresholds = models.JSONField(default=default_thresholds)
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "monitoring_notificationsettings"
        verbose_name_plural = "notification settings"

    def __str__(self):
        return f"Notification thresholds of {self.organization}: {self.thresholds}"
