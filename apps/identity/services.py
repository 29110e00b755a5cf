"""Writes for organizations' sign-in rules (two-factor, SSO), SSO just-in-time membership, SCIM tokens, and
staff's two-factor reset. Every change is audited in its own transaction."""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import DomainNameValidator
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.accounts.services import two_factor_disable
from apps.notices.models import NoticeKind
from apps.notices.services import notice_send
from apps.organizations.models import Membership, Organization, Role
from apps.organizations.services import api_key_digest, audit_record
from apps.seats.selectors import seat_current, seat_tiers
from apps.seats.services import membership_remove, seat_assign

from .models import OrganizationIdentity, ScimGroup, ScimToken, ScimUser, SsoDomain
from .selectors import (
    account_belongs_only_to,
    domain_is_public,
    domain_verified_elsewhere,
    email_domain,
    primary_owner_email,
    verified_domains,
)

SCIM_TOKEN_PREFIX = "bp_scim_"


def _settings_for_update(organization: Organization) -> OrganizationIdentity:
    OrganizationIdentity.objects.get_or_create(organization=organization)
    return OrganizationIdentity.objects.select_for_update().get(organization=organization)


@transaction.atomic
def two_factor_requirement_set(*, organization: Organization, required: bool, actor, now=None) -> OrganizationIdentity:
    """Require (or stop requiring) two-factor authentication of every member. Audited; no change, no row."""
    identity = _settings_for_update(organization)
    if identity.require_two_factor == required:
        return identity
    identity.require_two_factor = required
    identity.save(update_fields=["require_two_factor"])
    audit_record(organization=organization, actor=actor, action="identity.require_two_factor",
                 old=not required, new=required, now=now)
    _tell_primary_owner(organization=organization, change="two_factor", actor_label=_actor_label(actor),
                        required=required, now=now)
    return identity


def _actor_label(actor, actor_label: str | None = None) -> str:
    return actor_label or (actor.email if actor is not None and getattr(actor, "email", "") else "system")


def _tell_primary_owner(*, organization: Organization, change: str, actor_label: str, now=None, **details) -> None:
    """Email the primary owner about a change to the organization's sign-in, SSO or SCIM (or a refusal that
    concerns them), through the notices outbox: queued in this transaction, sent after commit. Mandatory: the
    primary owner cannot switch these off."""
    email = primary_owner_email(organization=organization)
    if not email:
        return
    settings_url = settings.SITE_URL.rstrip("/") + reverse("identity:settings", kwargs={"slug": organization.slug})
    notice_send(kind=NoticeKind.IDENTITY_CHANGED, organization=organization, recipients=[],
                mandatory_recipients=[email], template="identity_changed",
                context={"organization": organization, "change": change, "actor": actor_label,
                         "settings_url": settings_url, **details}, now=now)


def domain_normalize(raw: str) -> str:
    """A domain as typed ("@Acme.com ", "acme.com.") in its stored form, or ValidationError with a message."""
    domain = (raw or "").strip().lower().lstrip("@").rstrip(".")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError(_("“%(domain)s” is not a domain name.") % {"domain": raw.strip()})
    try:
        DomainNameValidator(accept_idna=False)(domain)
    except ValidationError:
        raise ValidationError(_("“%(domain)s” is not a domain name.") % {"domain": raw.strip()})
    if "." not in domain:
        raise ValidationError(_("“%(domain)s” is not a domain name.") % {"domain": raw.strip()})
    return domain


@transaction.atomic
def sso_domain_claim(*, organization: Organization, domain: str, actor, now=None) -> SsoDomain:
    """Claim an email domain for the organization's SSO and SCIM. The claim does nothing until it is verified
    (sso_domain_verify). Public mail and disposable domains are refused, and so is a domain another organization
    verified (it says so). Audited; the primary owner is told."""
    now = now or timezone.now()
    domain = domain_normalize(domain)
    if domain_is_public(domain):
        raise ValidationError(_("%(domain)s is a public email provider's domain: it belongs to no organization "
                                "and cannot be claimed.") % {"domain": domain})
    if domain_verified_elsewhere(domain=domain, organization=organization):
        raise ValidationError(_("%(domain)s is verified by another organization. A domain can be verified by one "
                                "organization at a time: that organization has to remove it first.")
                              % {"domain": domain})
    if SsoDomain.objects.filter(organization=organization, domain=domain).exists():
        raise ValidationError(_("%(domain)s is already claimed by this organization.") % {"domain": domain})
    try:
        with transaction.atomic():
            claim = SsoDomain.objects.create(organization=organization, domain=domain, created_at=now)
    except IntegrityError:  # the same claim sent twice at once
        raise ValidationError(_("%(domain)s is already claimed by this organization.") % {"domain": domain})
    audit_record(organization=organization, actor=actor, action="identity.domain.claim", target=domain,
                 new={"txt": claim.txt_value}, now=now)
    _tell_primary_owner(organization=organization, change="domain_claim", actor_label=_actor_label(actor),
                        domain=domain, txt_value=claim.txt_value, now=now)
    return claim


@transaction.atomic
def sso_domain_verify(*, claim: SsoDomain, txt_values: list[str], actor, now=None) -> SsoDomain:
    """Mark a claim verified when the TXT records found at the domain (looked up by the caller, outside the
    transaction: identity.domain_check) hold its token. Refused with a message when they do not, or when another
    organization verified the domain first. Verifying twice changes nothing. Audited; the primary owner is told."""
    now = now or timezone.now()
    claim = SsoDomain.objects.select_for_update().select_related("organization").get(pk=claim.pk)
    if claim.verified_at is not None:
        return claim
    if claim.txt_value not in {v.strip() for v in txt_values}:
        raise ValidationError(_("No TXT record at %(domain)s holds %(value)s yet. Add it at your DNS provider and "
                                "try again (changes can take a while to show).")
                              % {"domain": claim.domain, "value": claim.txt_value})
    if domain_verified_elsewhere(domain=claim.domain, organization=claim.organization):
        raise ValidationError(_("%(domain)s is verified by another organization. A domain can be verified by one "
                                "organization at a time: that organization has to remove it first.")
                              % {"domain": claim.domain})
    claim.verified_at = now
    try:
        with transaction.atomic():
            claim.save(update_fields=["verified_at"])
    except IntegrityError:  # another organization verified it at the same moment
        raise ValidationError(_("%(domain)s is verified by another organization. A domain can be verified by one "
                                "organization at a time: that organization has to remove it first.")
                              % {"domain": claim.domain})
    audit_record(organization=claim.organization, actor=actor, action="identity.domain.verify", target=claim.domain,
                 now=now)
    _tell_primary_owner(organization=claim.organization, change="domain_verify", actor_label=_actor_label(actor),
                        domain=claim.domain, now=now)
    return claim


@transaction.atomic
def sso_domain_mark_verified(*, organization: Organization, domain: str, actor_label: str, now=None) -> bool:
    """Staff and the demo seed: record a domain as verified without a DNS lookup (the demo's `.example` names
    cannot hold a TXT record). Refused for a public mail domain or one another organization verified. Audited
    as such. Returns whether anything changed."""
    now = now or timezone.now()
    domain = domain_normalize(domain)
    if domain_is_public(domain) or domain_verified_elsewhere(domain=domain, organization=organization):
        raise ValidationError(_("%(domain)s cannot be verified for this organization.") % {"domain": domain})
    claim, _created = SsoDomain.objects.get_or_create(organization=organization, domain=domain,
                                                       defaults={"created_at": now})
    if claim.verified_at is not None:
        return False
    SsoDomain.objects.filter(pk=claim.pk).update(verified_at=now)
    audit_record(organization=organization, actor_label=actor_label, action="identity.domain.verify",
                 target=domain, new={"dns": False}, now=now)
    return True


@transaction.atomic
def sso_domain_remove(*, claim: SsoDomain, actor, now=None) -> None:
    """Give up a claim (verified or not): SSO and SCIM stop acting on the domain at once. Audited; the primary
    owner is told."""
    now = now or timezone.now()
    claim = SsoDomain.objects.select_for_update().select_related("organization").get(pk=claim.pk)
    was_verified = claim.verified_at is not None
    claim.delete()
    audit_record(organization=claim.organization, actor=actor, action="identity.domain.remove", target=claim.domain,
                 old={"verified": was_verified}, now=now)
    _tell_primary_owner(organization=claim.organization, change="domain_remove", actor_label=_actor_label(actor),
                        domain=claim.domain, now=now)


@transaction.atomic
def sso_settings_set(*, organization: Organization, issuer_url: str, client_id: str, client_secret: str | None,
                     default_tier_code: str, required: bool, actor, now=None) -> OrganizationIdentity:
    """Set the organization's OpenID Connect provider. `client_secret=None` keeps the stored secret. "Require
    SSO" needs a provider and at least one verified domain. Audited (the secret is never written to the audit
    trail, only whether it changed); the primary owner is told."""
    identity = _settings_for_update(organization)
    tier_codes = {t.code for t in seat_tiers(organization=organization)}
    if default_tier_code and default_tier_code not in tier_codes:
        raise ValidationError({"sso_default_tier_code": _("Choose one of this plan's seat tiers.")})
    if required and not (issuer_url and client_id and verified_domains(organization=organization)):
        raise ValidationError({"sso_required": _("Set the issuer, the client id and verify at least one domain "
                                                 "before requiring single sign-on.")})
    old = {"issuer_url": identity.sso_issuer_url, "client_id": identity.sso_client_id,
           "default_tier_code": identity.sso_default_tier_code, "required": identity.sso_required}
    new = {"issuer_url": issuer_url.rstrip("/"), "client_id": client_id,
           "default_tier_code": default_tier_code, "required": required}
    secret_changed = client_secret is not None and client_secret != identity.sso_client_secret
    if old == new and not secret_changed:
        return identity
    identity.sso_issuer_url, identity.sso_client_id = new["issuer_url"], client_id
    identity.sso_default_tier_code, identity.sso_required = default_tier_code, required
    if secret_changed:
        identity.sso_client_secret = client_secret
    identity.save()
    audit_record(organization=organization, actor=actor, action="identity.sso", old=old,
                 new={**new, "client_secret_changed": secret_changed}, now=now)
    _tell_primary_owner(organization=organization, change="sso", actor_label=_actor_label(actor),
                        issuer_url=new["issuer_url"], required=required, now=now)
    return identity


class SsoJoinRefused(Exception):
    """An SSO arrival that may not join; `message` is shown to them."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@transaction.atomic
def sso_member_join(*, organization: Organization, user, now: dt.datetime) -> Membership:
    """A person who signed in through the organization's provider joins it just in time: role member, a seat
    of the SSO default tier (the plan's first tier when none is set), audited. Only addresses of a domain the
    organization verified join. A current member stays as they are (SSO never changes a role). A member an
    owner (or SCIM) removed is not let back in by signing in: an owner re-invites them."""
    identity = OrganizationIdentity.objects.get(organization=organization)
    if email_domain(user.email) not in verified_domains(organization=organization):
        raise SsoJoinRefused(_("%(email)s is not an address of a domain %(org)s verified for single sign-on.")
                             % {"email": user.email, "org": organization.name})
    membership = Membership.objects.select_for_update().filter(organization=organization, user=user).first()
    if membership is not None and membership.removed_at is not None:
        raise SsoJoinRefused(_("Your access to %(org)s was removed. Ask an owner to invite you again.")
                             % {"org": organization.name})
    if membership is not None:
        return membership
    membership = Membership.objects.create(organization=organization, user=user, role=Role.MEMBER)
    audit_record(organization=organization, actor=user, action="member.join", target=user.email,
                 new={"role": Role.MEMBER, "via": "sso"}, now=now)
    tiers = seat_tiers(organization=organization)
    tier = next((t for t in tiers if t.code == identity.sso_default_tier_code), tiers[0] if tiers else None)
    if tier is not None and seat_current(membership=membership) is None:
        seat_assign(membership=membership, tier=tier, actor=user, now=now)
    return membership


class SsoRefusal:
    """Why an identity provider's assertion was refused (the audit row's `reason`)."""

    PRIMARY_OWNER = "primary_owner"
    OTHER_ORGANIZATION = "other_organization"
    UNVERIFIED_DOMAIN = "unverified_domain"


@transaction.atomic
def sso_refusal_record(*, organization: Organization, email: str, reason: str, now=None) -> None:
    """Record a refused SSO assertion in the organization's audit log. An assertion for the primary owner's
    address (someone with the provider tried to sign in as them) is also emailed to the primary owner."""
    now = now or timezone.now()
    audit_record(organization=organization, actor_label=f"sso:{organization.slug}", action="identity.sso.refused",
                 target=email, new={"reason": reason}, now=now)
    if reason == SsoRefusal.PRIMARY_OWNER:
        _tell_primary_owner(organization=organization, change="sso_refused_primary_owner",
                            actor_label=f"sso:{organization.slug}", email=email, now=now)


@transaction.atomic
def scim_token_create(*, organization: Organization, name: str, actor=None,
                      actor_label: str | None = None) -> tuple[ScimToken, str]:
    """Create a SCIM bearer token. Returns the row and the raw token, which is never stored nor shown again."""
    name = (name or "").strip()[:100] or "SCIM"
    raw = SCIM_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ScimToken.objects.create(organization=organization, name=name, prefix=raw[: len(SCIM_TOKEN_PREFIX) + 4],
                                     digest=api_key_digest(raw))
    audit_record(organization=organization, actor=actor, actor_label=actor_label, action="scim_token.create",
                 target=token.public_id, new={"name": name})
    _tell_primary_owner(organization=organization, change="scim_token_create",
                        actor_label=_actor_label(actor, actor_label), name=name)
    return token, raw


SCIM_TOKEN_USED_RESOLUTION = dt.timedelta(seconds=60)


def scim_token_mark_used(*, token: ScimToken, now: dt.datetime) -> None:
    """Record that the token was used (shown on Security & SSO), at most once a minute: a provider's sync sends
    bursts of requests, which should not each write."""
    if token.last_used_at is not None and now - token.last_used_at <= SCIM_TOKEN_USED_RESOLUTION:
        return
    ScimToken.objects.filter(pk=token.pk).update(last_used_at=now)


@transaction.atomic
def scim_token_revoke(*, token: ScimToken, actor, now=None) -> ScimToken:
    """Revoke a SCIM token: refused from the next request on. Revoking twice changes nothing."""
    token = ScimToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        return token
    token.revoked_at = now or timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(organization=token.organization, actor=actor, action="scim_token.revoke", target=token.public_id,
                 old={"name": token.name})
    _tell_primary_owner(organization=token.organization, change="scim_token_revoke", actor_label=_actor_label(actor),
                        name=token.name, now=now)
    return token


@transaction.atomic
def two_factor_reset_by_staff(*, user, actor, now=None) -> int:
    """Staff remove a user's authenticator and recovery codes (a lost device with no code left). Audited in
    every organization the user belongs to, naming the staff member. Returns how many devices went."""
    removed = two_factor_disable(user=user)
    if removed:
        for membership in Membership.objects.active().select_related("organization").filter(user=user):
            audit_record(organization=membership.organization, actor=None,
                         actor_label=f"staff:{actor.email}", action="identity.two_factor_reset",
                         target=user.email, now=now)
    return removed


# --- SCIM provisioning: users are memberships, tier-named groups assign seat tiers ------------------------------

class ScimConflict(Exception):
    """A second user with the same userName in the organization, or (`foreign`) an account that belongs to
    another organization: RFC 7644's 409 `uniqueness`."""

    def __init__(self, value: str, *, foreign: bool = False):
        super().__init__(value)
        self.value, self.foreign = value, foreign


class ScimOutOfScope(Exception):
    """An address outside the organization's verified domains: SCIM neither creates nor changes it."""

    def __init__(self, message: str, *, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


def _require_verified_domain(organization: Organization, email: str) -> None:
    if email_domain(email) not in verified_domains(organization=organization):
        raise ScimOutOfScope(_("%(email)s is not an address of a domain this organization verified: SCIM "
                               "provisions only addresses of verified domains.") % {"email": email})


@transaction.atomic
def scim_refusal_record(*, token: ScimToken, target: str, reason: str, now=None) -> None:
    """Record in the token's organization that SCIM was refused an account of another organization (nothing
    else changes anywhere)."""
    audit_record(organization=token.organization, actor_label=_scim_label(token), action="scim.refused",
                 target=target, new={"reason": reason}, now=now or timezone.now())


def _tier_for_group(organization: Organization, display_name: str):
    """The seat tier a group named after it assigns ("Premium", "Chat + Claude Code"; the code works too)."""
    wanted = display_name.strip().casefold()
    return next((t for t in seat_tiers(organization=organization)
                 if wanted in (t.get_code_display().casefold(), t.code.casefold())), None)


def _default_tier(organization: Organization):
    identity = OrganizationIdentity.objects.filter(organization=organization).first()
    tiers = seat_tiers(organization=organization)
    code = identity.sso_default_tier_code if identity else ""
    return next((t for t in tiers if t.code == code), tiers[0] if tiers else None)


def _scim_label(token: ScimToken) -> str:
    return f"scim:{token.public_id}"


def _user_name_taken(organization: Organization, user_name: str, *, exclude_membership=None) -> bool:
    taken = ScimUser.objects.filter(organization=organization, user_name__iexact=user_name)
    if exclude_membership is not None:
        taken = taken.exclude(membership=exclude_membership)
    return taken.exists()


@transaction.atomic
def scim_user_create(*, token: ScimToken, user_name: str, email: str, name: str, external_id: str, active: bool,
                     attributes: dict, now: dt.datetime) -> Membership:
    """Provision a member: the account is created when the address is new (no password: they sign in through
    SSO or set one by password reset), the membership is created or a removed one reactivated, and the member
    gets a seat of the SSO default tier (the plan's first tier when none is set). A userName or an address
    already provisioned in the organization is a conflict. Audited as the SCIM token."""
    organization = token.organization
    email = email.strip().lower()
    _require_verified_domain(organization, email)
    if _user_name_taken(organization, user_name):
        raise ScimConflict(user_name)
    user = User.objects.filter(email__iexact=email).first()
    if user is not None and not account_belongs_only_to(user, organization):
        raise ScimConflict(email, foreign=True)
    if user is None:
        user = User.objects.create_user(email, password=None, name=name[:150])
    membership = Membership.objects.select_for_update().filter(organization=organization, user=user).first()
    if membership is not None and (membership.removed_at is None or hasattr(membership, "scim")):
        raise ScimConflict(email)
    if membership is None:
        membership = Membership.objects.create(organization=organization, user=user, role=Role.MEMBER)
    else:
        membership.removed_at = None
        membership.save(update_fields=["removed_at"])
    ScimUser.objects.update_or_create(membership=membership, defaults={
        "organization": organization, "user_name": user_name, "external_id": external_id, "active": True,
        "attributes": attributes})
    audit_record(organization=organization, actor_label=_scim_label(token), action="member.join", target=email,
                 new={"role": membership.role, "via": "scim"}, now=now)
    tier = _default_tier(organization)
    if tier is not None:
        seat_assign(membership=membership, tier=tier, actor=None, now=now)
    if not active:
        scim_user_set_active(token=token, membership=membership, active=False, now=now)
    return membership


@transaction.atomic
def scim_user_set_active(*, token: ScimToken, membership: Membership, active: bool, now: dt.datetime) -> Membership:
    """`active: false` (or DELETE) removes the member and closes their seat at `now` (billed up to that moment,
    prorated on the next invoice); `active: true` restores them with a seat of the default tier. The primary
    owner is never deprovisioned (the break-glass account). Audited as the SCIM token."""
    membership = Membership.objects.select_for_update().select_related("user", "organization").get(pk=membership.pk)
    scim, _created = ScimUser.objects.get_or_create(membership=membership, defaults={
        "organization": membership.organization, "user_name": membership.user.email})
    if scim.active == active and (membership.removed_at is None) == active:
        return membership
    if not active and membership.role == Role.PRIMARY_OWNER:
        raise ValidationError(_("The primary owner cannot be deprovisioned; transfer the role first."))
    scim.active = active
    scim.save(update_fields=["active", "updated_at"])
    if active:
        membership.removed_at = None
        membership.save(update_fields=["removed_at"])
        audit_record(organization=membership.organization, actor_label=_scim_label(token), action="member.restore",
                     target=membership.user.email, new={"role": membership.role}, now=now)
        tier = _default_tier(membership.organization)
        if tier is not None:
            seat_assign(membership=membership, tier=tier, actor_label=_scim_label(token), now=now)
    else:
        membership = membership_remove(membership=membership, actor_label=_scim_label(token), now=now)
    return membership


@transaction.atomic
def scim_user_update(*, token: ScimToken, membership: Membership, user_name: str, email: str, name: str,
                     external_id: str, active: bool, attributes: dict, now: dt.datetime) -> Membership:
    """PUT/PATCH of a user: userName, the login email (when no other account uses it), name, externalId and
    active (see scim_user_set_active). Only members at the organization's verified domains, to addresses of
    those domains. An account that also belongs to another organization keeps its email and name (409 for an
    email change); an owner's and the primary owner's login email never change through SCIM."""
    organization = membership.organization
    user = membership.user
    email = email.strip().lower()
    _require_verified_domain(organization, user.email)
    if _user_name_taken(organization, user_name, exclude_membership=membership):
        raise ScimConflict(user_name)
    shared = not account_belongs_only_to(user, organization)
    if email != user.email.lower():
        if shared:
            raise ScimConflict(user.email, foreign=True)
        if membership.role in (Role.PRIMARY_OWNER, Role.OWNER):
            raise ValidationError(_("An owner's login email cannot be changed through provisioning."))
        _require_verified_domain(organization, email)
        if User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
            raise ScimConflict(email)
        user.email = email
    if not shared:
        user.name = (name or "")[:150]
        user.save(update_fields=["email", "name"])
    ScimUser.objects.update_or_create(membership=membership, defaults={
        "organization": membership.organization, "user_name": user_name, "external_id": external_id or "",
        "attributes": attributes})
    return scim_user_set_active(token=token, membership=membership, active=active, now=now)


@transaction.atomic
def scim_user_delete(*, token: ScimToken, membership: Membership, now: dt.datetime) -> None:
    """DELETE: deprovision as `active: false`, then forget the SCIM record (the user is 404 to SCIM from now on;
    the membership row stays for invoices). Only this organization's membership goes; the account stays."""
    _require_verified_domain(membership.organization, membership.user.email)
    scim_user_set_active(token=token, membership=membership, active=False, now=now)
    ScimUser.objects.filter(membership=membership).delete()
    membership.scim_groups.clear()


@transaction.atomic
def scim_group_save(*, token: ScimToken, group, display_name: str, external_id: str,
                    members: list[Membership], member_entries: dict, now: dt.datetime):
    """Create or replace a group. Members added to a group named after a seat tier move to that tier (with the
    console's prorated upgrade charge); members leaving it who are in no other tier group go back to the
    default tier. Other groups are stored and change nothing."""
    organization = token.organization
    clash = ScimGroup.objects.filter(organization=organization, display_name__iexact=display_name)
    if group is not None:
        clash = clash.exclude(pk=group.pk)
    if clash.exists():
        raise ScimConflict(display_name)
    before: set[int] = set()
    if group is None:
        group = ScimGroup.objects.create(organization=organization, display_name=display_name,
                                         external_id=external_id or "", member_entries=member_entries)
    else:
        before = set(group.members.values_list("pk", flat=True))
        group.display_name, group.external_id = display_name, external_id or ""
        group.member_entries = member_entries
        group.save()
    group.members.set(members)
    tier = _tier_for_group(organization, display_name)
    if tier is not None:
        for membership in members:
            if membership.pk not in before and membership.removed_at is None:
                seat_assign(membership=membership, tier=tier, actor=None, now=now)
        left = Membership.objects.filter(pk__in=before - {m.pk for m in members}, removed_at__isnull=True)
        _fall_back_to_default(organization, left, exclude_group=group, now=now)
    audit_record(organization=organization, actor_label=_scim_label(token), action="scim_group.save",
                 target=display_name, new={"members": sorted(m.user.email for m in members)}, now=now)
    return group


def _fall_back_to_default(organization, memberships, *, exclude_group, now) -> None:
    default = _default_tier(organization)
    for membership in memberships:
        other_tier_groups = [g for g in membership.scim_groups.exclude(pk=exclude_group.pk)
                             if _tier_for_group(organization, g.display_name) is not None]
        if not other_tier_groups and default is not None:
            seat_assign(membership=membership, tier=default, actor=None, now=now)


@transaction.atomic
def scim_group_delete(*, token: ScimToken, group, now: dt.datetime) -> None:
    organization = token.organization
    members = list(group.members.filter(removed_at__isnull=True))
    if _tier_for_group(organization, group.display_name) is not None:
        _fall_back_to_default(organization, members, exclude_group=group, now=now)
    audit_record(organization=organization, actor_label=_scim_label(token), action="scim_group.delete",
                 target=group.display_name, now=now)
    group.delete()
