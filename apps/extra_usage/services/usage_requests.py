"""Enterprise members' requests for extra usage: asking, "Deny", and the member's email about the decision.

What "Increase limit" does is apps/spending/requests.py (it asks the admission decision, above this app)."""

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
from apps.seats.selectors import seat_current
from apps.usage.services import cap_amount_validate
from apps.webhooks import payloads
from apps.webhooks.services import webhook_event_emit

from ..models import ExtraUsageRequest, ExtraUsageSettings, RequestStatus
from ..selectors import REQUEST_COOLDOWN

NOTE_MAX_LENGTH = 500


def actor_label(actor, api_key_public_id: str) -> str | None:
    if actor is not None:
        return None
    return f"Admin API key {api_key_public_id}" if api_key_public_id else "system"


@transaction.atomic
def extra_usage_request_create(*, membership: Membership, now: dt.datetime, note: str = "",
                               amount: Decimal | None = None) -> ExtraUsageRequest:
    """A member asks the organization's admins for more usage, with an optional note and the monthly limit
    they would like (optional). Idempotent: a member has at most one pending request, and asking again
    returns it. Refused (ValidationError) when the organization switched requests
    off, or when the member's last request was denied less than 30 days ago. Enterprise plans only."""
    organization = membership.organization
    if not organization.is_enterprise:
        raise ValidationError("Requests for extra usage are offered on Enterprise plans.", code="not_offered")
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError({"note": f"Keep the note under {NOTE_MAX_LENGTH} characters."})
    if amount is not None:
        amount = cap_amount_validate(amount)
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
                note=note, requested_amount=amount,
            )
    except IntegrityError:
        # A double click raced us: the other transaction's pending request is the one.
        return ExtraUsageRequest.objects.get(membership=membership, status=RequestStatus.PENDING)
    webhook_event_emit(organization=organization, **payloads.extra_usage_request_created(created), now=now)
    return created


def request_locked(request: ExtraUsageRequest) -> ExtraUsageRequest:
    return (
        ExtraUsageRequest.objects.select_for_update(of=("self",))
        .select_related("organization", "membership__user", "membership__organization")
        .get(pk=request.pk)
    )


def decision_notify_after_commit(request_id: int) -> None:
    enqueue_on_commit("apps.extra_usage.tasks.request_decision_notify_task", request_id)


@transaction.atomic
def extra_usage_request_deny(*, request: ExtraUsageRequest, actor=None, api_key_public_id: str = "",
                             suppress_notification: bool = False, now: dt.datetime) -> ExtraUsageRequest:
    """"Deny": a pending request is declined and the member emailed (unless suppressed); they may ask again
    after 30 days. Denying an already denied request returns it unchanged (no second email); an approved one
    raises ValidationError code "already_approved"."""
    locked = request_locked(request)
    if locked.status == RequestStatus.DENIED:
        return locked
    if locked.status in (RequestStatus.APPROVED, RequestStatus.CLOSED):
        raise ValidationError("This request was already approved.", code="already_approved")
    label = actor_label(actor, api_key_public_id)
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
        decision_notify_after_commit(locked.pk)
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
        "outcome": request.outcome,
        "usage_based": organization.plan_kind == PlanKind.ENTERPRISE_USAGE,
        # "" when admission let the member continue right after the approval; else what still stops them.
        "stopped_reason": request.stopped_reason,
        "usage_url": _site_url(f"/orgs/{organization.slug}/"),
    }
    notice_send(kind=NoticeKind.EXTRA_USAGE_DECIDED, organization=organization,
                recipients=[request.membership.user.email], template="extra_usage_decided", context=context, now=now)
    return True
