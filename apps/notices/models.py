"""Notices: every email the portal sends goes through one outbox (EmailOutbox), written in the transaction of
the change that causes it and delivered by a Celery task after commit, retried with backoff, with the last
error kept for staff. A notice is never dropped silently: it is `sent`, waiting for a retry (`queued`), or
`failed` after the last retry (visible in Django admin, where staff can send it again).

Recipients choose which notices they get, per organization (NoticeOptOut rows: no row means "on"). Every
email carries List-Unsubscribe / List-Unsubscribe-Post headers pointing at a signed one-click link.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.organizations.models import Organization


class NoticeKind(models.TextChoices):
    SPEND_MEMBER_LIMIT = "spend_member_limit", _("My spend limit")
    SPEND_MEMBER_ALLOWANCE = "spend_member_allowance", _("My included usage")
    SPEND_MEMBER_LIMIT_ADMINS = "spend_member_limit_admins", _("A member reached their spend limit")
    SPEND_ORG_CAP = "spend_org_cap", _("The organization's spend limit")
    EXTRA_USAGE_DECIDED = "extra_usage_decided", _("Decisions on my extra usage requests")
    EXTRA_USAGE_DIGEST = "extra_usage_digest", _("Daily digest of pending extra usage requests")
    INVOICE_ISSUED = "invoice_issued", _("Invoice issued")
    INVOICE_REMINDER = "invoice_reminder", _("Invoice payment reminders")
    INVITATION = "invitation", _("Invitations")
    IDENTITY_CHANGED = "identity_changed", _("Changes to sign-in, single sign-on and SCIM")


class OutboxStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class EmailOutbox(models.Model):
    """One email to one recipient, rendered when it was queued (HTML and plain text from one template)."""

    kind = models.CharField(max_length=40, choices=NoticeKind.choices)
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    to_email = models.EmailField()
    subject = models.CharField(max_length=300)
    text_body = models.TextField()
    html_body = models.TextField()
    headers = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the next retry is due: the sweep re-enqueues a queued email only after this (a lost enqueue).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_status_next")]
        verbose_name = "email"
        verbose_name_plural = "email outbox"

    def __str__(self):
        return f"{self.get_kind_display()} to {self.to_email} ({self.status})"


class EmailAttachment(models.Model):
    email = models.ForeignKey(EmailOutbox, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=200)
    mimetype = models.CharField(max_length=100)
    content = models.BinaryField()

    def __str__(self):
        return self.filename


class NoticeOptOut(models.Model):
    """A recipient switched a kind of notice off for an organization. Keyed by the (lower-cased) address, so
    an invitation's recipient, who has no account yet, can unsubscribe too."""

    email = models.EmailField()
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40, choices=NoticeKind.choices)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["email", "organization", "kind"], name="notice_opt_out_unique")
        ]

    def __str__(self):
        return f"{self.email} off {self.kind} for {self.organization_id}"
