"""Console writes that span apps: they compose the lower apps' services in one transaction."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from apps.notices.models import NoticeKind
from apps.notices.services import notice_send
from apps.organizations.models import Invitation, Membership, Organization
from apps.organizations.services import (
    invitation_accept,
    invitation_create,
    invitation_for_token,
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
    notice_send(kind=NoticeKind.INVITATION, organization=organization, recipients=[invitation.email],
                template="invitation", now=now, context={
                    "organization": organization, "link": link, "inviter": actor_membership.user.display_name,
                    "role": invitation.get_role_display(),
                })
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
