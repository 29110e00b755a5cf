"""Who may do what in an organization: the one place every view and API asks.

- Owners (and the primary owner) manage caps, seats, extra usage and billing.
- Admins and above review extra-usage requests and see the organization's usage.
- Members see only their own usage.
- Someone outside the organization gets a 404 for any of its pages or objects (its existence is not revealed).
"""

from __future__ import annotations

from enum import Enum

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import Membership, Role

_RANK = {Role.MEMBER: 0, Role.ADMIN: 1, Role.OWNER: 2, Role.PRIMARY_OWNER: 3}


class Capability(Enum):
    VIEW_OWN_USAGE = Role.MEMBER
    VIEW_ORG_USAGE = Role.ADMIN
    REVIEW_REQUESTS = Role.ADMIN
    MANAGE_BILLING = Role.OWNER
    MANAGE_CAPS = Role.OWNER
    MANAGE_SEATS = Role.OWNER
    MANAGE_MEMBERS = Role.OWNER
    MANAGE_EXTRA_USAGE = Role.OWNER
    MANAGE_ADMIN_API_KEYS = Role.PRIMARY_OWNER
    # Verified domains, the identity provider, "Require SSO", SCIM tokens (issue 26): who may sign in as whom.
    MANAGE_IDENTITY = Role.PRIMARY_OWNER


def role_at_least(role: str, minimum: str) -> bool:
    return _RANK[Role(role)] >= _RANK[Role(minimum)]


def can(membership: Membership | None, capability: Capability) -> bool:
    return membership is not None and role_at_least(membership.role, capability.value)


def membership_for(user, slug: str) -> Membership:
    """The user's membership in the organization with this slug, or 404 (also for anonymous users)."""
    if not user.is_authenticated:
        raise Http404
    membership = (
        Membership.objects.active()
        .select_related("organization", "user")
        .filter(user=user, organization__slug=slug)
        .first()
    )
    if membership is None:
        raise Http404
    return membership


def require(user, slug: str, capability: Capability, *, hide: bool = False) -> Membership:
    """The membership if it has the capability. A lacking member gets 403, or 404 when `hide` is set."""
    membership = membership_for(user, slug)
    if not can(membership, capability):
        if hide:
            raise Http404
        raise PermissionDenied
    return membership
