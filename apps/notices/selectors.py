"""Reads for notices: which notices a user can receive in each of their organizations, and their choices."""

from __future__ import annotations

from dataclasses import dataclass

from apps.organizations.models import Membership, Role
from apps.organizations.permissions import role_at_least

from .models import NoticeKind, NoticeOptOut

# The notices each role receives (the preferences page lists exactly these). Invitations go to people who are
# not members yet: they unsubscribe from the email's own link.
KINDS_BY_MINIMUM_ROLE: list[tuple[str, str]] = [
    (NoticeKind.SPEND_MEMBER_LIMIT, Role.MEMBER),
    (NoticeKind.SPEND_MEMBER_ALLOWANCE, Role.MEMBER),
    (NoticeKind.EXTRA_USAGE_DECIDED, Role.MEMBER),
    (NoticeKind.SPEND_MEMBER_LIMIT_ADMINS, Role.ADMIN),
    (NoticeKind.EXTRA_USAGE_DIGEST, Role.ADMIN),
    (NoticeKind.SPEND_ORG_CAP, Role.OWNER),
    (NoticeKind.INVOICE_ISSUED, Role.OWNER),
    (NoticeKind.INVOICE_REMINDER, Role.OWNER),
]


@dataclass
class PreferenceRow:
    organization_id: int
    organization_name: str
    kind: str
    label: str
    enabled: bool

    @property
    def field_name(self) -> str:
        return f"{self.organization_id}:{self.kind}"


def notice_preferences(*, user) -> list[PreferenceRow]:
    """One row per (organization the user is an active member of, notice their role receives). Two queries."""
    memberships = Membership.objects.active().filter(user=user).select_related("organization").order_by(
        "organization__name", "organization_id"
    )
    off = set(NoticeOptOut.objects.filter(email=user.email.lower()).values_list("organization_id", "kind"))
    labels = dict(NoticeKind.choices)
    rows = []
    for membership in memberships:
        for kind, minimum in KINDS_BY_MINIMUM_ROLE:
            if role_at_least(membership.role, minimum):
                rows.append(PreferenceRow(
                    organization_id=membership.organization_id, organization_name=membership.organization.name,
                    kind=kind, label=str(labels[kind]), enabled=(membership.organization_id, kind) not in off,
                ))
    return rows
