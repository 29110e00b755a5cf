"""Console writes that span apps: they compose the lower apps' services in one transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from apps.extra_usage.services.switches import extra_usage_members_choose, member_extra_usage_set
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
from apps.usage.models import CapScope, SpendCap
from apps.usage.services import cap_delete, cap_set


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


@transaction.atomic
def tier_caps_set(*, organization: Organization, amounts: dict[SeatTier, Decimal | None], actor,
                  now: dt.datetime) -> None:
    """Set several seat-tier limits at once (None: unlimited), all or none. Each changed limit is audited by
    cap_set; an unchanged one writes nothing."""
    for tier, amount in amounts.items():
        cap_set(organization=organization, scope=CapScope.SEAT_TIER, amount=amount, tier=tier, actor=actor, now=now)


@transaction.atomic
def member_caps_set(*, organization: Organization, amounts: dict[Membership, Decimal | None], actor,
                    now: dt.datetime) -> None:
    """Set several members' own limits at once, all or none. None removes a member's own limit, so their seat
    tier and organization limits apply (as "Set to unlimited" does in the member's limit modal)."""
    for membership, amount in amounts.items():
        if amount is not None:
            cap_set(organization=organization, scope=CapScope.MEMBER, amount=amount, membership=membership,
                    actor=actor, now=now)
            continue
        own = SpendCap.objects.filter(organization=organization, scope=CapScope.MEMBER, membership=membership).first()
        if own is not None:
            cap_delete(cap=own, actor=actor, now=now)


@transaction.atomic
def extra_usage_members_set(*, organization: Organization, all_members: bool, switches: dict[Membership, bool],
                            actor, now: dt.datetime) -> None:
    """"Which members": extra usage for every member, or only for those switched on; the switches given are
    saved either way (they count again whenever the owner goes back to chosen members). Audited per change."""
    extra_usage_members_choose(organization=organization, all_members=all_members, actor=actor, now=now)
    for membership, enabled in switches.items():
        member_extra_usage_set(membership=membership, enabled=enabled, actor=actor, now=now)
