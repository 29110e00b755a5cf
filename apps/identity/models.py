import secrets

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from apps.common.ids import new_public_id
from apps.organizations.models import Organization


class OrganizationIdentity(models.Model):
    """An organization's sign-in rules: required two-factor, and its OpenID Connect single sign-on.

    Single sign-on is on when an issuer and client id are set; it serves the organization's verified SsoDomain rows.
    "Require SSO" stops password logins of the organization's own people at those domains, never the primary
    owner's (break-glass: password and second factor, always)."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, primary_key=True,
                                        related_name="identity")
    require_two_factor = models.BooleanField(default=False)
    sso_issuer_url = models.URLField(max_length=300, blank=True)
    sso_client_id = models.CharField(max_length=200, blank=True)
    # The provider's client secret: needed in clear to call its token endpoint, so it cannot be a digest.
    sso_client_secret = models.CharField(max_length=300, blank=True)
    sso_default_tier_code = models.CharField(max_length=20, blank=True)
    sso_required = models.BooleanField(default=False)

    class Meta:
        verbose_name = "organization identity settings"
        verbose_name_plural = "organization identity settings"

    def __str__(self):
        return f"Identity settings of {self.organization}"

    @property
    def sso_enabled(self) -> bool:
        """The provider is configured; which addresses it serves is the organization's SsoDomain rows."""
        return bool(self.sso_issuer_url and self.sso_client_id)

    @property
    def sso_provider_id(self) -> str:
        """The id allauth's OpenID Connect URLs carry for this organization (/sso/oidc/<id>/login/callback/)."""
        return f"org-{self.organization.slug}"


def new_domain_verification_token() -> str:
    return secrets.token_hex(16)


DOMAIN_TXT_PREFIX = "billing-portal-domain-verification="


class SsoDomain(models.Model):
    """An email domain an organization claimed for single sign-on and SCIM. A claim does nothing until it is
    verified: a DNS TXT record at the domain holds `billing-portal-domain-verification=<token>` (the token is
    this claim's own). Several organizations may claim a domain; one at a time may have it verified."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sso_domains")
    domain = models.CharField(max_length=253)
    verification_token = models.CharField(max_length=64, default=new_domain_verification_token, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "domain claim"
        verbose_name_plural = "domain claims"
        ordering = ("domain",)
        constraints = [
            models.UniqueConstraint(fields=["organization", "domain"], name="sso_domain_unique_per_org"),
            models.UniqueConstraint(fields=["domain"], condition=models.Q(verified_at__isnull=False),
                                    name="sso_domain_verified_once"),
        ]

    def __str__(self):
        return self.domain

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def txt_value(self) -> str:
        """The TXT record's value that proves the claim."""
        return DOMAIN_TXT_PREFIX + self.verification_token


def new_scim_token_public_id() -> str:
    return new_public_id("scim")


class ScimToken(models.Model):
    """A bearer token an identity provider uses for SCIM provisioning into one organization. Only its SHA-256
    digest is stored; the token is shown once."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="scim_tokens")
    name = models.CharField(max_length=100)
    public_id = models.CharField(max_length=40, unique=True, default=new_scim_token_public_id, editable=False)
    prefix = models.CharField(max_length=20)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "SCIM token"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


def new_scim_group_public_id() -> str:
    return new_public_id("grp")


class ScimGroup(models.Model):
    """A SCIM Group the identity provider created. Groups named after a seat tier assign that tier to their
    members; other groups are kept (so the provider sees them) and change nothing."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="scim_groups")
    public_id = models.CharField(max_length=40, unique=True, default=new_scim_group_public_id, editable=False)
    display_name = models.CharField(max_length=200)
    external_id = models.CharField(max_length=200, blank=True)
    members = models.ManyToManyField("organizations.Membership", blank=True, related_name="scim_groups")
    # Each member entry as the provider wrote it (display, type, $ref), keyed by the user's SCIM id.
    member_entries = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "display_name"],
                                               name="scim_group_unique_name_per_org")]

    def __str__(self):
        return self.display_name


class ScimUser(models.Model):
    """The SCIM view of a membership: the provider's userName and externalId, and whether it marked the user
    active. The SCIM id is the user's public id. The login email is the userName when that is an address,
    else the user's primary email."""

    membership = models.OneToOneField("organizations.Membership", on_delete=models.CASCADE, primary_key=True,
                                      related_name="scim")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user_name = models.CharField(max_length=254)
    # The resource as the provider last wrote it (never a password), so what it reads back is what it sent;
    # the membership, the login email and the seat stay the source of truth for everything the portal uses.
    attributes = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(Lower("user_name"), "organization",
                                               name="scim_user_unique_user_name_per_org")]

    def __str__(self):
        return f"SCIM {self.membership}"
