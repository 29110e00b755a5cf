"""Console writes that span apps: they compose the lower apps' services in one transaction."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from apps.organizations.models import Invitation, Membership, Organization
from apps.organizations.services import (
    invitation_accept,
    invitation_create,
    invitation_for_token,
    membership_remove,
)
from apps.seats.models import SeatTier
from apps.seats.selectors import seat_current, seat_tiers
from apps.seats.services import seat_assign


@transaction.atomic
def member_invite(*, organization: Organization, email: str, role: str, seat_tier_code: str,
                  actor_membership: Membership, now: dt.datetime) -> Invitation:
    """Invite someone (see organizations.services.invitation_create) and email them the accept link once the
    invitation is committed."""
    invitation, raw = invitation_create(
        organization=organization, email=email, role=role, seat_tier_code=seat_tier_code,
        actor_membership=actor_membership, now=now,
    )
    link = settings.SITE_URL.rstrip("/") + reverse("console:invitation_accept", kwargs={"token": raw})
    names = {"inviter": actor_membership.user.display_name, "organization": organization.name, "link": link}
    # The invitee has no account (nor language) yet: the organization's default language.
    with translation.override(organization.default_language):
        names["role"] = invitation.get_role_display()
        subject = _("You're invited to %(organization)s") % names
        body = _("%(inviter)s invited you to join %(organization)s on billing_portal as %(role)s.\n\n"
                 "Accept the invitation: %(link)s\n\nThe link works once and expires in 7 days.") % names
    transaction.on_commit(lambda: send_mail(subject, body, None, [invitation.email], fail_silently=False))
    return invitation


@transaction.atomic
def member_invitation_resend(*, invitation: Invitation, actor_membership: Membership,
                             now: dt.datetime) -> Invitation:
    """Send a pending or expired invitation again: a new link, valid for 7 days, for the same address, role and
    seat tier; the old link stops working. An accepted or withdrawn invitation is not sent again (invite the
    person afresh instead). Audited like an invitation."""
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise ValidationError({"invitation": "This invitation was accepted or withdrawn; invite the person again."})
    return member_invite(
        organization=invitation.organization, email=invitation.email, role=invitation.role,
        seat_tier_code=invitation.seat_tier_code, actor_membership=actor_membership, now=now,
    )


@transaction.atomic
def member_join(*, raw_token: str, user=None, name: str = "", password: str = "", now: dt.datetime) -> Membership:
    """Accept an invitation and give the new member a seat of the invited tier (the plan's first tier when the
    invitation names none, or a tier that no longer exists)."""
    invitation = invitation_for_token(raw_token=raw_token)
    membership = invitation_accept(raw_token=raw_token, user=user, name=name, password=password, now=now)
    tiers = seat_tiers(organization=membership.organization)
    tier: SeatTier | None = next((t for t in tiers if invitation and t.code == invitation.seat_tier_code), None)
    tier = tier or (tiers[0] if tiers else None)
    if tier is not None and seat_current(membership=membership) is None:
        seat_assign(membership=membership, tier=tier, actor=membership.user, now=now)
    return membership


@transaction.atomic
def member_remove(*, membership: Membership, actor_membership: Membership, now: dt.datetime) -> Membership:
    """Remove a member and close their seat interval at `now` (their seat is billed up to that moment)."""
    membership = membership_remove(membership=membership, actor_membership=actor_membership, now=now)
    seat_assign(membership=membership, tier=None, actor=actor_membership.user, now=now)
    return membership
