"""Reads of the Admin API: key lookup, and the pages of the effective report, the configured limits and the
increase requests. Each page loads in a fixed number of queries whatever its size.

The effective limit of a member is exactly what admission enforces: read by admission's own loader
(`spending.selectors.spend_contexts_load`) and worked out by `usage.selectors.spend_status_compute`: the level
with the least headroom left, ties going to the most specific (member, then seat tier, then organization).
When no cap applies at any level the member is unlimited and the organization row (amount null) is named as
the source.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce

from apps.common.ids import api_key_digest
from apps.common.periods import period_containing
from apps.extra_usage.models import ExtraUsageRequest
from apps.extra_usage.selectors import extra_usage_settings
from apps.organizations.models import Membership, Organization, PlanKind
from apps.seats.models import SeatTier
from apps.spending.selectors import spend_contexts_load
from apps.usage.models import CapScope, SpendCap
from apps.usage.selectors import SpendStatus

from .models import AdminApiKey

# The preview list groups rows by level, least specific first.
SCOPE_RANK = {CapScope.ORGANIZATION: 0, CapScope.SEAT_TIER: 1, CapScope.MEMBER: 4}


def admin_api_key_authenticate(*, raw_key: str) -> AdminApiKey | None:
    """The active key matching a raw key, with its organization, or None (unknown or revoked)."""
    if not raw_key or len(raw_key) > 200:
        return None
    key = AdminApiKey.objects.select_related("organization").filter(digest=api_key_digest(raw_key)).first()
    if key is None or key.revoked_at is not None:
        return None
    return key


def admin_api_keys(*, organization: Organization) -> QuerySet[AdminApiKey]:
    return AdminApiKey.objects.filter(organization=organization).select_related("created_by")


def extra_usage_switched_off(*, organization: Organization) -> bool:
    """Seat-based Enterprise with extra usage off: its caps are kept but nothing beyond included usage is spent
    (the organization row reports `is_enabled: false`). Usage-based Enterprise has no such switch."""
    if organization.plan_kind != PlanKind.ENTERPRISE_SEAT:
        return False
    return not extra_usage_settings(organization=organization).enabled


@dataclass(frozen=True)
class EffectiveRow:
    """One member's effective monthly limit: the binding cap row (the organization row when unlimited)."""

    membership: Membership
    tier: SeatTier | None
    status: SpendStatus
    cap: SpendCap

    @property
    def amount(self):
        return self.status.limit


def effective_rows(*, organization: Organization, memberships: list[Membership], org_cap: SpendCap,
                   now: dt.datetime) -> list[EffectiveRow]:
    """Effective limits for already-loaded memberships (with users): one statement whatever their number (their
    spend contexts, as admission reads them)."""
    if not memberships:
        return []
    period = period_containing(now, organization.billing_timezone)
    context, found = spend_contexts_load(organization=organization, period=period,
                                         membership_ids=[m.pk for m in memberships])
    caps = context.caps
    rows = []
    for membership in memberships:
        tier, status = found[membership.pk].tier, found[membership.pk].status
        cap = status.cap if status.cap is not None else (caps.organization or org_cap)
        # The binding row's scope is the member's own or their tier: attach the loaded objects (no lazy loads).
        if cap.scope == CapScope.MEMBER:
            cap.membership = membership
        elif cap.scope == CapScope.SEAT_TIER and tier is not None:
            cap.tier = tier
        rows.append(EffectiveRow(membership, tier, status, cap))
    return rows


def effective_members_page(*, organization: Organization, user_ids: list[str] | None,
                           after: tuple[dt.datetime, str] | None, limit: int) -> tuple[list[Membership], bool]:
    """Current members, newest join first (ties by user id), after a keyset position. Returns the page and
    whether more follow. Ids that are not current members are silently left out."""
    members = Membership.objects.filter(organization=organization).select_related("user")
    if user_ids is not None:
        members = members.filter(user__public_id__in=user_ids)
    if after is not None:
        joined_at, public_id = after
        members = members.filter(Q(joined_at__lt=joined_at) | Q(joined_at=joined_at, user__public_id__lt=public_id))
    page = list(members.order_by("-joined_at", "-user__public_id")[: limit + 1])
    return page[:limit], len(page) > limit


def spend_limit_in_org(*, organization: Organization, public_id: str) -> SpendCap | None:
    return (
        SpendCap.objects.filter(organization=organization, public_id=public_id)
        .select_related("tier", "membership__user")
        .first()
    )


def spend_limits_page(*, organization: Organization, scopes: list[str] | None, after: tuple[int, int, str] | None,
                      limit: int) -> tuple[list[SpendCap], bool]:
    """Configured rows grouped by level (organization, seat tier, member); tiers in plan order, members by
    spend-limit id. Keyset position: (level rank, tier position, spend-limit id)."""
    rank = Case(*[When(scope=scope, then=Value(r)) for scope, r in SCOPE_RANK.items()], output_field=IntegerField())
    rows = (
        SpendCap.objects.filter(organization=organization)
        .select_related("tier", "membership__user")
        .annotate(rank=rank, tier_position=Coalesce("tier__position", Value(0)))
    )
    if scopes is not None:
        rows = rows.filter(scope__in=scopes)
    if after is not None:
        r, p, pid = after
        rows = rows.filter(
            Q(rank__gt=r) | Q(rank=r, tier_position__gt=p) | Q(rank=r, tier_position=p, public_id__gt=pid)
        )
    page = list(rows.order_by("rank", "tier_position", "public_id")[: limit + 1])
    return page[:limit], len(page) > limit


def increase_requests_page(*, organization: Organization, statuses: list[str] | None,
                           actor_ids: list[str] | None, after: tuple[dt.datetime, str] | None,
                           limit: int) -> tuple[list[ExtraUsageRequest], bool]:
    """An organization's increase requests, newest first (ties by id), of current members only."""
    requests = ExtraUsageRequest.objects.filter(organization=organization).select_related(
        "membership__user", "resolved_by"
    )
    if statuses is not None:
        requests = requests.filter(status__in=statuses)
    if actor_ids is not None:
        requests = requests.filter(membership__user__public_id__in=actor_ids)
    if after is not None:
        created_at, public_id = after
        requests = requests.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, public_id__lt=public_id))
    page = list(requests.order_by("-created_at", "-public_id")[: limit + 1])
    return page[:limit], len(page) > limit


def increase_request_in_org(*, organization: Organization, public_id: str) -> ExtraUsageRequest | None:
    """A request of a current member of the organization, or None. (A member's requests go with their
    membership, so a former member's request is not found.)"""
    return (
        ExtraUsageRequest.objects.filter(organization=organization, public_id=public_id)
        .select_related("membership__user", "membership__organization", "resolved_by")
        .first()
    )
