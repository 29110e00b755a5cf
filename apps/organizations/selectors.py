"""Reads for organizations and memberships."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import AuditEntry, Membership, Organization


def memberships_for_user(*, user) -> QuerySet[Membership]:
    return (
        Membership.objects.active().filter(user=user).select_related("organization").order_by("organization__name")
    )


def membership_by_email(*, organization: Organization, email: str) -> Membership | None:
    return (
        Membership.objects.active()
        .select_related("user")
        .filter(organization=organization, user__email=email.strip().lower())
        .first()
    )


def audit_entries(*, organization: Organization) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(organization=organization).select_related("actor")
