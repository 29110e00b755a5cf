from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.common.ids import new_public_id


class PlanKind(models.TextChoices):
    TEAM = "team", _("Team")
    ENTERPRISE_SEAT = "enterprise_seat", _("Enterprise (seat-based)")
    ENTERPRISE_USAGE = "enterprise_usage", _("Enterprise (usage-based)")


class Role(models.TextChoices):
    PRIMARY_OWNER = "primary_owner", _("Primary owner")
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    MEMBER = "member", _("Member")


class Organization(models.Model):
    """A customer. Its plan kind fixes the seat tiers and how usage is funded; one currency, one billing zone."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    plan_kind = models.CharField(max_length=20, choices=PlanKind.choices)
    billing_timezone = models.CharField(max_length=64, default="UTC")
    currency = models.CharField(max_length=3, default="USD", editable=False)
    # Usage-based Enterprise: the HIPAA-ready option adds a fee to every seat.
    hipaa_ready = models.BooleanField(default=False)
    # Owners' choices (audited): the language for people who chose none and whose browser asks for none of the
    # five, and the language of the invoice page, its PDF and CSV headers.
    # db_default too: rows written in bulk by SQL (benchmarks, imports) get English like the ORM's.
    default_language = models.CharField(max_length=8, choices=settings.LANGUAGES, default="en", db_default="en")
    invoice_language = models.CharField(max_length=8, choices=settings.LANGUAGES, default="en", db_default="en")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self):
        return self.name

    @property
    def is_seat_based(self) -> bool:
        """Team and seat-based Enterprise: seats include usage; caps bound extra usage beyond it."""
        return self.plan_kind in (PlanKind.TEAM, PlanKind.ENTERPRISE_SEAT)

    @property
    def is_enterprise(self) -> bool:
        return self.plan_kind in (PlanKind.ENTERPRISE_SEAT, PlanKind.ENTERPRISE_USAGE)


class ActiveMembershipQuerySet(models.QuerySet):
    def active(self):
        return self.filter(removed_at__isnull=True)


class Membership(models.Model):
    """A user's place in an organization. Exactly one primary owner per organization (a partial unique index).
    Use `Membership.objects.active()` for current members."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)
    # Removed members keep their row: their usage, seat history and invoices still point at it. A removed
    # member has no access and is not listed; re-adding the same user reactivates the row.
    removed_at = models.DateTimeField(null=True, blank=True)

    objects = ActiveMembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_user_per_org"),
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(role="primary_owner"),
                name="membership_one_primary_owner_per_org",
            ),
        ]
        indexes = [models.Index(fields=["organization", "role"])]

    def __str__(self):
        return f"{self.user} @ {self.organization} ({self.role})"

    @property
    def is_active(self) -> bool:
        return self.removed_at is None


class AuditEntry(models.Model):
    """Who changed a billing setting (a cap, a seat, extra usage…), from what, to what, and when."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audit_entries")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # Non-user actors (an Admin API key, staff, a task) are named here; for users it repeats the email.
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=60)
    target = models.CharField(max_length=200, blank=True)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["organization", "-created_at"])]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.action} {self.target} by {self.actor_label}"


def new_api_key_public_id() -> str:
    return new_public_id("key")


class ApiKey(models.Model):
    """A machine API key for the assistant products. Only a SHA-256 digest is stored; the key is shown once."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    public_id = models.CharField(max_length=40, unique=True, default=new_api_key_public_id, editable=False)
    prefix = models.CharField(max_length=16, help_text="The first characters of the key, to recognise it.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "machine API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Invitation(models.Model):
    """An owner's invitation to join an organization, sent by email as a link carrying a random token.

    Only the token's SHA-256 digest is stored. An invitation is accepted at most once, expires after
    INVITATION_TTL_DAYS, and inviting the same address again revokes the earlier pending invitation.
    `seat_tier_code` names the tier the new member gets (a tier code of the organization's plan).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    seat_tier_code = models.CharField(max_length=20, blank=True)
    token_digest = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["organization", "email"])]
        constraints = [
            models.CheckConstraint(condition=~Q(role="primary_owner"), name="invitation_not_primary_owner"),
        ]

    def __str__(self):
        return f"Invitation of {self.email} to {self.organization}"

    def is_pending(self, now) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now
