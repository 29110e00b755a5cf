"""Enterprise members' requests for extra usage, and their review ("Increase limit" / "Deny")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.common.periods import period_containing
from apps.common.tasks import enqueue_on_commit
from apps.notices.models import NoticeKind
from apps.notices.services import notice_send
from apps.organizations.models import Membership, PlanKind
from apps.organizations.services import audit_record
from apps.seats.models import SeatTier, TierCode
from apps.seats.selectors import seat_current
from apps.seats.services import seat_assign
from apps.usage.models import CapScope, SpendCap
from apps.usage.services import cap_amount_validate, cap_set
from apps.webhooks import payloads
from apps.webhooks.services import webhook_event_emit

from ..models import ExtraUsageRequest, ExtraUsageSettings, RequestStatus
from ..selectors import REQUEST_COOLDOWN
from .switches import jsonable, member_switch, settings_change, settings_locked


def _actor_label(actor, api_key_public_id: str) -> str | None:
    if actor is not None:
        return None
    return f"Admin API key {api_key_public_id}" if api_key_public_id else "system"


@transaction.atomic
def extra_usage_request_create(*, membership: Membership, now: dt.datetime) -> ExtraUsageRequest:
    """A member asks the organization's admins for more usage. Idempotent: a member has at most one pending
    request, and asking again returns it. Refused (ValidationError) when the organization switched requests
    off, or when the member's last request was denied less than 30 days ago. Enterprise plans only."""
    organization = membership.organization
    if not organization.is_enterprise:
        raise ValidationError("Requests for extra usage are offered on Enterprise plans.", code="not_offered")
    existing = ExtraUsageRequest.objects.filter(membership=membership, status=RequestStatus.PENDING).first()
    if existing is not None:
        return existing
    row = ExtraUsageSettings.objects.filter(organization=organization).first()
    if row is not None and not row.requests_enabled:
        raise ValidationError("Your organization does not accept requests for extra usage.",
                              code="requests_disabled")
    denied = (
        ExtraUsageRequest.objects.filter(membership=membership, status=RequestStatus.DENIED,
                                         resolved_at__gt=now - REQUEST_COOLDOWN)
        .order_by("-resolved_at").first()
    )
    if denied is not None:
        again = (denied.resolved_at + REQUEST_COOLDOWN).date()
        raise ValidationError(
            f"Your last request was declined; you can ask again from {again:%B} {again.day}.",
            code="recently_denied",
        )
    try:
        with transaction.atomic():
            created = ExtraUsageRequest.objects.create(
                organization=organization, membership=membership, created_at=now,
                period_start=period_containing(now, organization.billing_timezone).start,
            )
    except IntegrityError:
        # A double click raced us: the other transaction's pending request is the one.
        return ExtraUsageRequest.objects.get(membership=membership, status=RequestStatus.PENDING)
    webhook_event_emit(organization=organization, **payloads.extra_usage_request_created(created), now=now)
    return created


def _lock_request(request: ExtraUsageRequest) -> ExtraUsageRequest:
    return (
        ExtraUsageRequest.objects.select_for_update(of=("self",))
        .select_related("organization", "membership__user", "membership__organization")
        .get(pk=request.pk)
    )


def _notify_after_commit(request_id: int) -> None:
    enqueue_on_commit("apps.extra_usage.tasks.request_decision_notify_task", request_id)


@transaction.atomic
def extra_usage_request_approve(*, request: ExtraUsageRequest, amount: Decimal | None = None, actor=None,
                                api_key_public_id: str = "", suppress_notification: bool = False,
                                now: dt.datetime) -> tuple[ExtraUsageRequest, SpendCap | None]:
    """"Increase limit": approve a pending request (anything else: ValidationError code "already_resolved").

    - Seat-based plans, no amount, member on a Standard seat: moved to Premium (prorated upgrade charged).
    - Seat-based plans otherwise: extra usage enabled for the member; with an amount, their own monthly limit
      is set to it. If the organization had extra usage off, it is turned on for chosen members only, so the
      approval lets this member continue without widening anyone else's access.
    - Usage-based Enterprise: the member's own limit is set to the amount (required).
    The member is emailed after commit unless `suppress_notification`. Returns the request and the cap written.
    """
    locked = _lock_request(request)
    if locked.status != RequestStatus.PENDING:
        raise ValidationError("spend limit increase request is already resolved", code="already_resolved")
    organization = locked.organization
    membership = locked.membership
    label = _actor_label(actor, api_key_public_id)
    if amount is not None:
        amount = cap_amount_validate(amount)
    cap = None
    if organization.plan_kind == PlanKind.ENTERPRISE_USAGE:
        if amount is None:
            raise ValidationError({"amount": "Enter the member's new monthly limit."})
        cap = cap_set(organization=organization, scope=CapScope.MEMBER, amount=amount, membership=membership,
                      actor=actor, actor_label=label, now=now)
        outcome = "limit_set"
    else:
        seat = seat_current(membership=membership)
        if amount is None and seat is not None and seat.tier.code == TierCode.STANDARD:
            premium = SeatTier.objects.get(organization=organization, code=TierCode.PREMIUM)
            seat_assign(membership=membership, tier=premium, actor=actor, now=now)
            outcome = "moved_to_premium"
        else:
            if amount is not None:
                cap = cap_set(organization=organization, scope=CapScope.MEMBER, amount=amount,
                              membership=membership, actor=actor, actor_label=label, now=now)
            member_switch(membership=membership, enabled=True, actor=actor, actor_label=label, now=now)
            row = settings_locked(organization)
            if not row.enabled:
                settings_change(organization=organization, changes={"enabled": True, "all_members": False},
                                 action="extra_usage.enable", actor=actor, actor_label=label, now=now)
            outcome = "extra_usage_enabled"
    locked.status = RequestStatus.APPROVED
    locked.resolved_at = now
    locked.resolved_by = actor if getattr(actor, "pk", None) else None
    locked.resolved_by_api_key_id = api_key_public_id or ""
    locked.approved_amount = amount
    locked.save(update_fields=["status", "resolved_at", "resolved_by", "resolved_by_api_key_id",
                               "approved_amount"])
    audit_record(organization=organization, actor=actor, actor_label=label, action="extra_usage_request.approve",
                 target=membership.user.email, old={"status": "pending"},
                 new={"status": "approved", "outcome": outcome, "amount": jsonable(amount)}, now=now)
    webhook_event_emit(organization=organization, **payloads.extra_usage_request_decided(locked), now=now)
    if not suppress_notification:
        _notify_after_commit(locked.pk)
    return locked, cap


@transaction.atomic
def extra_usage_request_deny(*, request: ExtraUsageRequest, actor=None, api_key_public_id: str = "",
                             suppress_notification: bool = False, now: dt.datetime) -> ExtraUsageRequest:
    """"Deny": a pending request is declined and the member emailed (unless suppressed); they may ask again
    after 30 days. Denying an already denied request returns it unchanged (no second email); an approved one
    raises ValidationError code "already_approved"."""
    locked = _lock_request(request)
    if locked.status == RequestStatus.DENIED:
        return locked
    if locked.status == RequestStatus.APPROVED:
        raise ValidationError("This request was already approved.", code="already_approved")
    label = _actor_label(actor, api_key_public_id)
    locked.status = RequestStatus.DENIED
    locked.resolved_at = now
    locked.resolved_by = actor if getattr(actor, "pk", None) else None
    locked.resolved_by_api_key_id = api_key_public_id or ""
    locked.save(update_fields=["status", "resolved_at", "resolved_by", "resolved_by_api_key_id"])
    audit_record(organization=locked.organization, actor=actor, actor_label=label,
                 action="extra_usage_request.deny", target=locked.membership.user.email,
                 old={"status": "pending"}, new={"status": "denied"}, now=now)
    webhook_event_emit(organization=locked.organization, **payloads.extra_usage_request_decided(locked), now=now)
    if not suppress_notification:
        _notify_after_commit(locked.pk)
    return locked


def _site_url(path: str) -> str:
    return django_settings.SITE_URL.rstrip("/") + path


def request_decision_notify(*, request_id: int, now: dt.datetime) -> bool:
    """Email the member the decision on their request, once: the conditional UPDATE of notified_at is the
    claim, so a retried task sends nothing. Returns whether this call sent it."""
    claimed = ExtraUsageRequest.objects.filter(
        pk=request_id, notified_at__isnull=True, status__in=[RequestStatus.APPROVED, RequestStatus.DENIED]
    ).update(notified_at=now)
    if not claimed:
        return False
    request = ExtraUsageRequest.objects.select_related("organization", "membership__user").get(pk=request_id)
    organization = request.organization
    seat = seat_current(membership=request.membership)
    context = {
        "request": request,
        "organization": organization,
        "approved": request.status == RequestStatus.APPROVED,
        "amount": request.approved_amount,  # formatted by the email, in its recipient's language
        "tier": seat.tier if seat else None,
        "usage_url": _site_url(f"/orgs/{organization.slug}/"),
    }
    notice_send(kind=NoticeKind.EXTRA_USAGE_DECIDED, organization=organization,
                recipients=[request.membership.user.email], template="extra_usage_decided", context=context, now=now)
    return True
