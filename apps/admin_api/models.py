"""Admin API keys: the credentials of the Claude Enterprise Admin API (`/v1/organizations/...`: spend limits, and
the usage and cost analytics).

They are their own kind, separate from the machine API keys the assistant products use: each belongs to one
organization, carries any of the scopes `read:spend_limits`, `write:spend_limits`, `read:analytics`,
`read:webhooks` and `write:webhooks`, is shown once when created,
is stored only as a SHA-256 digest, and is revocable (a revoked key is refused from the next request on).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.common.ids import new_public_id
from apps.organizations.models import Organization


class AdminScope(models.TextChoices):
    READ_SPEND_LIMITS = "read:spend_limits", _("read:spend_limits (every GET)")
    WRITE_SPEND_LIMITS = "write:spend_limits", _("write:spend_limits (set, delete, approve, deny)")
    READ_ANALYTICS = "read:analytics", _("read:analytics (usage and cost reports)")
    READ_WEBHOOKS = "read:webhooks", _("read:webhooks (list webhook endpoints)")
    WRITE_WEBHOOKS = "write:webhooks", _("write:webhooks (create, update, rotate and delete webhook endpoints)")


def new_admin_api_key_public_id() -> str:
    return new_public_id("apikey")


class AdminApiKey(models.Model):
    """One Admin API key of an organization. Only the digest of the raw key is stored."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="admin_api_keys")
    name = models.CharField(max_length=100)
    public_id = models.CharField(max_length=40, unique=True, default=new_admin_api_key_public_id, editable=False)
    prefix = models.CharField(max_length=32, help_text="The first characters of the key, to recognise it.")
    digest = models.CharField(max_length=64, unique=True)
    # A list of AdminScope values.
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["organization", "-created_at"])]
        verbose_name = "Admin API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
