"""Writes for organizations' sign-in rules (two-factor, SSO), SSO just-in-time membership, SCIM tokens, and
staff's two-factor reset. Every change is audited in its own transaction."""

from __future__ import annotations

import datetime as dt
import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.accounts.services import two_factor_disable
from apps.organizations.models import Membership, Organization, Role
from apps.organizations.services import api_key_digest, audit_record
from apps.seats.selectors import seat_current, seat_tiers
from apps.seats.services import membership_remove, seat_assign

from .models import OrganizationIdentity, ScimGroup, ScimToken, ScimUser, SsoDomain
from .selectors import account_belongs_only_to

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
    return identity


def _normalize_domains(domains: list[str]) -> list[str]:
    cleaned = sorted({d.strip().lower().lstrip("@") for d in domains if d.strip()})
    for domain in cleaned:
        if "." not in domain or " " in domain or "@" in domain or len(domain) > 253:
            raise ValidationError({"sso_email_domains": _("“%(domain)s” is not a domain name.") % {"domain": domain}})
    return cleaned


@transaction.atomic
def sso_settings_set(*, organization: Organization, issuer_url: str, client_id: str, client_secret: str | None,
                     email_domains: list[str], default_tier_code: str, required: bool, actor,
                     now=None) -> OrganizationIdentity:
    """Set the organization's OpenID Connect provider. `client_secret=None` keeps the stored secret. Each domain
    may belong to one organization only. "Require SSO" needs a provider and at least one domain. Audited (the
    secret is never written to the audit trail, only whether it changed)."""
    identity = _settings_for_update(organization)
    domains = _normalize_domains(email_domains)
    tier_codes = {t.code for t in seat_tiers(organization=organization)}
    if default_tier_code and default_tier_code not in tier_codes:
        raise ValidationError({"sso_default_tier_code": _("Choose one of this plan's seat tiers.")})
    if required and not (issuer_url and client_id and domains):
        raise ValidationError({"sso_required": _("Set the issuer, the client id and at least one verified domain "
                                                 "before requiring single sign-on.")})
    taken = SsoDomain.objects.filter(domain__in=domains).exclude(organization=organization)
    if taken.exists():
        raise ValidationError({"sso_email_domains": _("%(domain)s is already used by another organization.")
                               % {"domain": taken.first().domain}})
    old = {"issuer_url": identity.sso_issuer_url, "client_id": identity.sso_client_id,
           "email_domains": list(SsoDomain.objects.filter(organization=organization).order_by("domain")
                                 .values_list("domain", flat=True)),
           "default_tier_code": identity.sso_default_tier_code, "required": identity.sso_required}
    new = {"issuer_url": issuer_url.rstrip("/"), "client_id": client_id, "email_domains": domains,
           "default_tier_code": default_tier_code, "required": required}
    secret_changed = client_secret is not None and client_secret != identity.sso_client_secret
    if old == new and not secret_changed:
        return identity
    identity.sso_issuer_url, identity.sso_client_id = new["issuer_url"], client_id
    identity.sso_default_tier_code, identity.sso_required = default_tier_code, required
    if secret_changed:
        identity.sso_client_secret = client_secret
    identity.save()
    SsoDomain.objects.filter(organization=organization).exclude(domain__in=domains).delete()
    try:
        with transaction.atomic():
            SsoDomain.objects.bulk_create([SsoDomain(organization=organization, domain=d) for d in domains
                                           if d not in old["email_domains"]])
    except IntegrityError:  # another organization claimed the domain at the same moment
        raise ValidationError({"sso_email_domains": _("One of these domains is already used by another "
                                                      "organization.")})
    audit_record(organization=organization, actor=actor, action="identity.sso", old=old,
                 new={**new, "client_secret_changed": secret_changed}, now=now)
    return identity


class SsoJoinRefused(Exception):
    """An SSO arrival that may not join; `message` is shown to them."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@transaction.atomic
def sso_member_join(*, organization: Organization, user, now: dt.datetime) -> Membership:
    """A person who signed in through the organization's provider joins it just in time: role member, a seat
    of the SSO default tier (the plan's first tier when none is set), audited. A current member stays as they
    are. A member an owner (or SCIM) removed is not let back in by signing in: an owner re-invites them."""
    identity = OrganizationIdentity.objects.get(organization=organization)
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
    audit_record(organization=token.organization, actor=actor, action="scim_token.revoke", target=token.public_id)
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
    """A second user with the same userName in the organization."""


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
    if _user_name_taken(organization, user_name):
        raise ScimConflict(user_name)
    user = User.objects.filter(email__iexact=email).first()
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
    active (see scim_user_set_active)."""
    user = membership.user
    email = email.strip().lower()
    if _user_name_taken(membership.organization, user_name, exclude_membership=membership):
        raise ScimConflict(user_name)
    if email != user.email:
        if User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
            raise ScimConflict(email)
        if not account_belongs_only_to(user, membership.organization):
            raise ValidationError(_("This account also belongs to another organization: its email cannot be "
                                    "changed through this organization's provisioning."))
        user.email = email
    user.name = (name or "")[:150]
    user.save(update_fields=["email", "name"])
    ScimUser.objects.update_or_create(membership=membership, defaults={
        "organization": membership.organization, "user_name": user_name, "external_id": external_id or "",
        "attributes": attributes})
    return scim_user_set_active(token=token, membership=membership, active=active, now=now)


@transaction.atomic
def scim_user_delete(*, token: ScimToken, membership: Membership, now: dt.datetime) -> None:
    """DELETE: deprovision as `active: false`, then forget the SCIM record (the user is 404 to SCIM from now on;
    the membership row stays for invoices)."""
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
