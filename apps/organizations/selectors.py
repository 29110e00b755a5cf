"""Reads for organizations and memberships."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from apps.accounts.models import User

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


def audit_entries(*, organization: Organization, kind: str = "", actor: str = "",
                  since: dt.datetime | None = None, before: dt.datetime | None = None,
                  kinds: tuple[str, ...] | None = None) -> QuerySet[AuditEntry]:
    """The organization's audit trail, newest first, optionally narrowed to one family of actions (`kind`, the
    action's first dotted part: "cap" matches "cap.member"), an actor (their email or label, case-insensitive,
    exact) and a time span [since, before)."""
    entries = AuditEntry.objects.filter(organization=organization)
    if kinds is not None:  # only these families (a reader who may not see the others)
        families = Q(pk__in=[])
        for family in kinds:
            families |= Q(action=family) | Q(action__startswith=f"{family}.")
        entries = entries.filter(families)
    if kind:
        entries = entries.filter(Q(action=kind) | Q(action__startswith=f"{kind}."))
    if actor:
        entries = entries.filter(actor_label__iexact=actor)
    if since is not None:
        entries = entries.filter(created_at__gte=since)
    if before is not None:
        entries = entries.filter(created_at__lt=before)
    return entries.select_related("actor")


def audit_actors(*, organization: Organization) -> list[str]:
    """Everyone who appears as the actor of an audit entry of the organization (for the filter), sorted."""
    return sorted(AuditEntry.objects.filter(organization=organization).order_by()
                  .values_list("actor_label", flat=True).distinct(), key=str.lower)


def invoice_language_for(organization: Organization) -> str:
    """The language an organization's invoice page, PDF and CSV headers are written in (one of
    settings.LANGUAGES), e.g. `with translation.override(invoice_language_for(org)): …`."""
    return organization.invoice_language or organization.default_language or "en"


def recipient_language(*, user, organization: Organization | None) -> str:
    """The language an email to `user` about `organization` is written in: their saved preference, else the
    organization's default, else English (an email has no browser to ask)."""
    return getattr(user, "language", "") or (organization.default_language if organization else "") or "en"


def recipient_languages(*, organization: Organization | None, emails: list[str]) -> dict[str, str]:
    """recipient_language for each email address (one query): the account's saved preference, else the
    organization's default, else English; an address with no account (an invitee) gets the organization's."""
    fallback = (organization.default_language if organization else "") or "en"
    saved = dict(User.objects.filter(email__in=emails).exclude(language="").values_list("email", "language"))
    return {email: saved.get(email) or fallback for email in emails}
