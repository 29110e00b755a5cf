"""Writes for extra usage: the owners' switches, Team prepaid purchases and auto-reload, members' requests for
more usage and their review, and the admins' daily digest.

Rules:
- Every change to a switch writes an audit row (old → new) in its transaction and returns early when nothing
  changed. Turning extra usage off keeps every cap as configured; turning it back on restores them.
- Team: extra usage is funded from a prepaid balance, a ledger whose rows always sum to the balance. Money
  is only ever added by a succeeded PrepaidCharge: the charge is claimed with a unique row, the provider is
  called outside any transaction (with the claim's key as its idempotency key), and the ledger row and the
  balance change are written together when it succeeds. A failed payment changes no balance.
- Auto-reload: when the balance is at or below the owner's threshold, exactly one reload is bought per
  crossing, whatever the number of events or workers that notice it (see auto_reload_check).
- Requests: at most one pending per member (a partial unique index); a denied member may ask again after
  REQUEST_COOLDOWN; emails go out after commit, claimed once per request.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.common.money import MAX_CAP_AMOUNT, ZERO, money_format
from apps.common.periods import local_date, period_containing
from apps.organizations.models import Membership, Organization, PlanKind, Role
from apps.organizations.selectors import recipient_language
from apps.organizations.services import audit_record
from apps.seats.models import SeatTier, TierCode
from apps.seats.selectors import seat_current
from apps.seats.services import seat_assign
from apps.usage.models import CapScope, SpendCap
from apps.usage.services import NewUsageEvent, cap_amount_validate, cap_set

from .models import (
    ChargeKind,
    ChargeStatus,
    DigestDelivery,
    ExtraUsageRequest,
    ExtraUsageSettings,
    LedgerKind,
    MemberExtraUsage,
    PrepaidCharge,
    PrepaidLedgerEntry,
    RequestStatus,
)
from .payments import PaymentResult, payment_provider
from .selectors import REQUEST_COOLDOWN, pending_requests

logger = logging.getLogger(__name__)

MIN_PURCHASE = Decimal("5.00")
# A pending charge older than this was abandoned by a worker that died between claim and settlement; the sweep
# finishes it (the provider's idempotency key makes the retried charge the same charge).
STALE_CHARGE_AFTER = dt.timedelta(minutes=5)


# --- Ledger draw (called by the gateway inside the event's transaction) -------------------------------------

def prepaid_draw(*, events: list[NewUsageEvent], now: dt.datetime) -> None:
    """Draw the stored events' extra usage (cost − included_cost) from a Team organization's prepaid balance:
    one ledger row per event (unique per event) and the balance counter, in the events' transaction, in two
    statements whatever the batch size. The balance may go below zero by the requests already admitted;
    admission refuses the next one."""
    rows = [
        PrepaidLedgerEntry(organization_id=event.organization_id, kind=LedgerKind.USAGE,
                           amount=-(event.cost - event.included_cost), event_id=event.pk,
                           period_start=event.period_start, created_at=now)
        for event in events
        if event.cost > event.included_cost
    ]
    if not rows:
        return
    PrepaidLedgerEntry.objects.bulk_create(rows)
    drawn = sum((-row.amount for row in rows), ZERO)
    ExtraUsageSettings.objects.filter(organization_id=rows[0].organization_id).update(
        prepaid_balance=F("prepaid_balance") - drawn
    )


# --- Switches ---------------------------------------------------------------------------------------------------

def _settings_locked(organization: Organization) -> ExtraUsageSettings:
    ExtraUsageSettings.objects.get_or_create(organization=organization)
    return ExtraUsageSettings.objects.select_for_update().get(organization=organization)


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    return value


def _settings_change(*, organization: Organization, changes: dict, action: str, actor, now: dt.datetime,
                     actor_label: str | None = None) -> ExtraUsageSettings:
    """Apply field changes to the locked settings row; audit old → new; no write when nothing changes."""
    row = _settings_locked(organization)
    old = {name: _jsonable(getattr(row, name)) for name in changes}
    new = {name: _jsonable(value) for name, value in changes.items()}
    if old == new:
        return row
    for name, value in changes.items():
        setattr(row, name, value)
    row.save(update_fields=[*changes, "updated_at"])
    audit_record(organization=organization, actor=actor, actor_label=actor_label, action=action,
                 target="organization", old=old, new=new, now=now)
    return row


def _seat_based_only(organization: Organization) -> None:
    if not organization.is_seat_based:
        raise ValidationError(
            "Usage-based Enterprise has no included usage and no extra usage: all usage is pooled spend under "
            "the spend limits.", code="not_offered",
        )


@transaction.atomic
def extra_usage_enable(*, organization: Organization, actor=None, now: dt.datetime) -> ExtraUsageSettings:
    """Turn extra usage on: members past their included usage continue, within the caps (which are kept as
    configured while it was off). A Team organization must hold a prepaid balance first."""
    _seat_based_only(organization)
    row = _settings_locked(organization)
    if organization.plan_kind == PlanKind.TEAM and not row.enabled and row.prepaid_balance <= ZERO:
        raise ValidationError("Buy prepaid extra usage before turning extra usage on.", code="prepaid_required")
    return _settings_change(organization=organization, changes={"enabled": True}, action="extra_usage.enable",
                            actor=actor, now=now)


@transaction.atomic
def extra_usage_disable(*, organization: Organization, actor=None, now: dt.datetime) -> ExtraUsageSettings:
    """Turn extra usage off: members stop at their included usage until the next period. Caps, member switches
    and the prepaid balance are kept, so turning it back on restores everything."""
    _seat_based_only(organization)
    return _settings_change(organization=organization, changes={"enabled": False}, action="extra_usage.disable",
                            actor=actor, now=now)


@transaction.atomic
def extra_usage_members_choose(*, organization: Organization, all_members: bool, actor=None,
                               now: dt.datetime) -> ExtraUsageSettings:
    """Extra usage for every member (True) or only for members switched on one by one (False)."""
    _seat_based_only(organization)
    return _settings_change(organization=organization, changes={"all_members": bool(all_members)},
                            action="extra_usage.members", actor=actor, now=now)


def _member_switch(*, membership: Membership, enabled: bool, actor, now: dt.datetime,
                   actor_label: str | None = None) -> MemberExtraUsage:
    row, _ = MemberExtraUsage.objects.get_or_create(membership=membership)
    row = MemberExtraUsage.objects.select_for_update().get(pk=row.pk)
    if row.enabled == enabled:
        return row
    old = row.enabled
    row.enabled = enabled
    row.save(update_fields=["enabled", "updated_at"])
    audit_record(organization=membership.organization, actor=actor, actor_label=actor_label,
                 action="extra_usage.member", target=membership.user.email, old=old, new=enabled, now=now)
    return row


@transaction.atomic
def member_extra_usage_set(*, membership: Membership, enabled: bool, actor=None,
                           now: dt.datetime) -> MemberExtraUsage:
    """Switch extra usage on or off for one member (it counts when the organization chose "chosen members")."""
    _seat_based_only(membership.organization)
    return _member_switch(membership=membership, enabled=bool(enabled), actor=actor, now=now)


@transaction.atomic
def extra_usage_requests_set(*, organization: Organization, enabled: bool, actor=None,
                             now: dt.datetime) -> ExtraUsageSettings:
    """Allow or refuse new requests for extra usage. Pending requests stay reviewable either way."""
    if not organization.is_enterprise:
        raise ValidationError("Requests for extra usage are offered on Enterprise plans.", code="not_offered")
    return _settings_change(organization=organization, changes={"requests_enabled": bool(enabled)},
                            action="extra_usage.requests", actor=actor, now=now)


def _dollars(value: Decimal | None, *, field: str, minimum: Decimal = ZERO, allow_none: bool = False) -> Decimal | None:
    if value is None:
        if allow_none:
            return None
        raise ValidationError({field: "Enter an amount in dollars."})
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValidationError({field: "Enter an amount in dollars."})
    if value.as_tuple().exponent < -2:
        raise ValidationError({field: "Use at most two decimal places."})
    if value < minimum:
        raise ValidationError({field: _("Enter at least %(amount)s.") % {"amount": money_format(minimum)}})
    if value > MAX_CAP_AMOUNT:
        raise ValidationError({field: _("Enter at most %(amount)s.") % {"amount": money_format(MAX_CAP_AMOUNT)}})
    return value


@transaction.atomic
def auto_reload_configure(*, organization: Organization, enabled: bool, threshold: Decimal | None,
                          amount: Decimal | None, monthly_limit: Decimal | None, actor=None,
                          now: dt.datetime) -> ExtraUsageSettings:
    """Team: "Reload when the balance reaches `threshold`, buy `amount`", at most `monthly_limit` of reloads per
    billing period (None: no limit). Turning it off keeps the figures. If the balance is already at or below
    the threshold, a reload is checked for right after commit."""
    if organization.plan_kind != PlanKind.TEAM:
        raise ValidationError("Auto-reload is offered on Team plans, which prepay extra usage.", code="not_offered")
    if enabled:
        threshold = _dollars(threshold, field="reload_threshold")
        amount = _dollars(amount, field="reload_amount", minimum=MIN_PURCHASE)
        monthly_limit = _dollars(monthly_limit, field="monthly_reload_limit", allow_none=True)
        if monthly_limit is not None and monthly_limit < amount:
            raise ValidationError({"monthly_reload_limit": "The monthly limit must allow at least one reload."})
        changes = {"auto_reload_enabled": True, "reload_threshold": threshold, "reload_amount": amount,
                   "monthly_reload_limit": monthly_limit}
    else:
        changes = {"auto_reload_enabled": False}
    row = _settings_change(organization=organization, changes=changes, action="extra_usage.auto_reload",
                           actor=actor, now=now)
    if enabled:
        organization_id = organization.pk
        transaction.on_commit(lambda: _enqueue_reload(organization_id))
    return row


def _enqueue_reload(organization_id: int) -> None:
    from .tasks import auto_reload_task

    try:
        auto_reload_task.delay(organization_id)
    except Exception:  # broker down: the minute sweep catches up
        logger.warning("could not enqueue auto-reload for organization %s", organization_id, exc_info=True)


# --- Prepaid charges --------------------------------------------------------------------------------------------

def _charge_claim(*, organization: Organization, kind: str, amount: Decimal, idempotency_key: str, actor,
                  now: dt.datetime) -> tuple[PrepaidCharge, bool]:
    """Insert the pending charge (the claim). Returns (charge, created); an existing key returns its row."""
    try:
        with transaction.atomic():
            ExtraUsageSettings.objects.get_or_create(organization=organization)
            charge = PrepaidCharge.objects.create(
                organization=organization, kind=kind, amount=amount, idempotency_key=idempotency_key,
                period_start=period_containing(now, organization.billing_timezone).start,
                created_by=actor if getattr(actor, "pk", None) else None, created_at=now,
            )
        return charge, True
    except IntegrityError:
        return PrepaidCharge.objects.get(organization=organization, idempotency_key=idempotency_key), False


@transaction.atomic
def _charge_settle(*, charge_id: int, result: PaymentResult, now: dt.datetime) -> PrepaidCharge:
    """Record the provider's answer once. Success: the ledger row and the balance, together. Failure: the
    charge is marked failed and nothing else moves; a failed auto-reload also switches auto-reload off (so a
    declined card is not retried every minute) until an owner turns it back on."""
    organization_id = PrepaidCharge.objects.filter(pk=charge_id).values_list("organization_id", flat=True).get()
    # Lock the settings row before the charge, in the order _reload_claim takes them (settings, then a charge
    # row): the other order deadlocks a settling reload against a worker claiming the same crossing.
    list(ExtraUsageSettings.objects.select_for_update().filter(organization_id=organization_id)
         .values_list("pk", flat=True))
    charge = (PrepaidCharge.objects.select_for_update(of=("self",)).select_related("organization", "created_by")
              .get(pk=charge_id))
    if charge.status != ChargeStatus.PENDING:
        return charge
    organization = charge.organization
    charge.settled_at = now
    auto = charge.kind == ChargeKind.AUTO_RELOAD
    actor_label = "auto-reload" if auto else None
    if result.ok:
        charge.status = ChargeStatus.SUCCEEDED
        charge.payment_reference = result.reference[:100]
        charge.save(update_fields=["status", "payment_reference", "settled_at"])
        PrepaidLedgerEntry.objects.create(
            organization=organization,
            kind=LedgerKind.AUTO_RELOAD if auto else LedgerKind.PURCHASE,
            amount=charge.amount,
            payment_reference=charge.payment_reference,
            reload_key=charge.idempotency_key if auto else None,
            period_start=charge.period_start,
            created_by=charge.created_by,
            created_at=now,
        )
        ExtraUsageSettings.objects.filter(organization=organization).update(
            prepaid_balance=F("prepaid_balance") + charge.amount
        )
        audit_record(organization=organization, actor=charge.created_by, actor_label=actor_label,
                     action=f"prepaid.{charge.kind}", target=charge.payment_reference,
                     old=None, new={"amount": str(charge.amount)}, now=now)
    else:
        charge.status = ChargeStatus.FAILED
        charge.error = (result.error or "The payment was declined.")[:300]
        charge.save(update_fields=["status", "error", "settled_at"])
        audit_record(organization=organization, actor=charge.created_by, actor_label=actor_label,
                     action=f"prepaid.{charge.kind}.failed", target=charge.idempotency_key,
                     old=None, new={"amount": str(charge.amount), "error": charge.error}, now=now)
        if auto:
            _settings_change(organization=organization, changes={"auto_reload_enabled": False},
                             action="extra_usage.auto_reload", actor=None, actor_label="auto-reload (payment failed)",
                             now=now)
    return charge


def _charge_execute(*, charge: PrepaidCharge, now: dt.datetime) -> PrepaidCharge:
    """Call the provider for a claimed charge (outside any transaction) and settle it."""
    description = (
        f"Prepaid extra usage auto-reload for {charge.organization.name}" if charge.kind == ChargeKind.AUTO_RELOAD
        else f"Prepaid extra usage for {charge.organization.name}"
    )
    try:
        result = payment_provider().charge(
            organization=charge.organization, amount=charge.amount, description=description,
            idempotency_key=charge.idempotency_key,
        )
    except Exception:
        # The provider's answer is unknown: leave the charge pending; the sweep retries it with the same key.
        logger.exception("payment provider error for charge %s", charge.pk)
        return charge
    return _charge_settle(charge_id=charge.pk, result=result, now=now)


def prepaid_purchase(*, organization: Organization, amount: Decimal, idempotency_key: str, actor=None,
                     now: dt.datetime) -> PrepaidCharge:
    """An owner buys prepaid extra usage (Team). Not one transaction on purpose: the charge is claimed (a
    pending row, committed), the provider is called with no transaction open, then the outcome is settled.
    The same `idempotency_key` again (a double submit) returns the first charge and charges nothing. Returns
    the charge: `status` succeeded (balance raised by `amount`) or failed (`error` says why; balance unchanged).
    """
    if organization.plan_kind != PlanKind.TEAM:
        raise ValidationError("Prepaid extra usage is offered on Team plans.", code="not_offered")
    amount = _dollars(amount, field="amount", minimum=MIN_PURCHASE)
    if not idempotency_key or len(idempotency_key) > 90:
        raise ValidationError({"idempotency_key": "A purchase needs an idempotency key (at most 90 characters)."})
    charge, created = _charge_claim(organization=organization, kind=ChargeKind.PURCHASE, amount=amount,
                                    idempotency_key=f"purchase:{idempotency_key}", actor=actor, now=now)
    if not created:
        return charge
    return _charge_execute(charge=charge, now=now)


# --- Auto-reload ------------------------------------------------------------------------------------------------

@transaction.atomic
def _reload_claim(*, organization: Organization, now: dt.datetime) -> PrepaidCharge | None:
    """Claim the reload for the current threshold crossing, or None when none is due or another worker holds it.

    The settings row is locked so the balance and the reload counts are read together: a reload that
    settles updates this row in its own transaction, so a claimant sees either the old balance and the pending
    claim, or the new balance. The key is f"{period}:{succeeded}:{failed}", the number of reloads settled so
    far this period: every claimant of one crossing computes the same key and all but the first collide on
    the unique (organization, idempotency_key) row (and, after success, on the ledger's (organization,
    reload_key)). A reload that settles moves the count, so the next crossing gets the next key.
    """
    row = ExtraUsageSettings.objects.select_for_update().filter(organization=organization).first()
    if row is None or not (row.enabled and row.auto_reload_enabled):
        return None
    if row.reload_amount is None or row.reload_threshold is None or row.reload_amount <= 0:
        return None
    if row.prepaid_balance > row.reload_threshold:
        return None
    period_start = period_containing(now, organization.billing_timezone).start
    counts = PrepaidCharge.objects.filter(
        organization=organization, kind=ChargeKind.AUTO_RELOAD, period_start=period_start
    ).aggregate(
        succeeded=Count("id", filter=Q(status=ChargeStatus.SUCCEEDED)),
        failed=Count("id", filter=Q(status=ChargeStatus.FAILED)),
        committed=Sum("amount", filter=~Q(status=ChargeStatus.FAILED)),
    )
    if row.monthly_reload_limit is not None and (counts["committed"] or ZERO) + row.reload_amount > (
        row.monthly_reload_limit
    ):
        return None
    key = f"{period_start:%Y-%m}:{counts['succeeded']}:{counts['failed']}"
    charge, created = _charge_claim(organization=organization, kind=ChargeKind.AUTO_RELOAD,
                                    amount=row.reload_amount, idempotency_key=key, actor=None, now=now)
    return charge if created else None


def auto_reload_check(*, organization: Organization, now: dt.datetime) -> PrepaidCharge | None:
    """If the Team organization's balance is at or below its reload threshold, buy one reload of the set amount
    (within the monthly reload limit). Safe to call from any number of workers at once and to repeat: exactly
    one reload per crossing is claimed and charged. Returns the charge made now, or None."""
    if organization.plan_kind != PlanKind.TEAM:
        return None
    # A cheap unlocked look first: this runs after every usage batch, and most find nothing due.
    if not ExtraUsageSettings.objects.filter(
        organization=organization, enabled=True, auto_reload_enabled=True, reload_threshold__isnull=False,
        prepaid_balance__lte=F("reload_threshold"),
    ).exists():
        return None
    charge = _reload_claim(organization=organization, now=now)
    if charge is None:
        return None
    return _charge_execute(charge=charge, now=now)


def auto_reload_resume_stale(*, now: dt.datetime) -> int:
    """Finish charges left pending by a worker that died between claim and settlement (same idempotency key,
    so the provider does not charge twice). Returns how many were retried."""
    stale = PrepaidCharge.objects.select_related("organization").filter(
        status=ChargeStatus.PENDING, created_at__lt=now - STALE_CHARGE_AFTER
    )
    count = 0
    for charge in stale:
        _charge_execute(charge=charge, now=now)
        count += 1
    return count


# --- Requests for extra usage ---------------------------------------------------------------------------------

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
            return ExtraUsageRequest.objects.create(
                organization=organization, membership=membership, created_at=now,
                period_start=period_containing(now, organization.billing_timezone).start,
            )
    except IntegrityError:
        # A double click raced us: the other transaction's pending request is the one.
        return ExtraUsageRequest.objects.get(membership=membership, status=RequestStatus.PENDING)


def _lock_request(request: ExtraUsageRequest) -> ExtraUsageRequest:
    return (
        ExtraUsageRequest.objects.select_for_update(of=("self",))
        .select_related("organization", "membership__user", "membership__organization")
        .get(pk=request.pk)
    )


def _notify_after_commit(request_id: int) -> None:
    def enqueue():
        from .tasks import request_decision_notify_task

        try:
            request_decision_notify_task.delay(request_id)
        except Exception:
            logger.warning("could not enqueue the decision email for request %s", request_id, exc_info=True)

    transaction.on_commit(enqueue)


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
            _member_switch(membership=membership, enabled=True, actor=actor, actor_label=label, now=now)
            row = _settings_locked(organization)
            if not row.enabled:
                _settings_change(organization=organization, changes={"enabled": True, "all_members": False},
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
                 new={"status": "approved", "outcome": outcome, "amount": _jsonable(amount)}, now=now)
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
    with translation.override(recipient_language(user=request.membership.user, organization=organization)):
        _decision_email_send(request, organization, seat)
    return True


def _decision_email_send(request: ExtraUsageRequest, organization: Organization, seat) -> None:
    """The member's email about their request's decision, in the active language."""
    context = {
        "request": request,
        "organization": organization,
        "approved": request.status == RequestStatus.APPROVED,
        "amount": money_format(request.approved_amount) if request.approved_amount is not None else None,
        "tier": seat.tier if seat else None,
        "usage_url": _site_url(f"/orgs/{organization.slug}/"),
    }
    names = {"organization": organization.name}
    subject = (_("Your request for extra usage in %(organization)s was approved") % names if context["approved"]
               else _("Your request for extra usage in %(organization)s was declined") % names)
    send_mail(subject, render_to_string("extra_usage/email/request_decision.txt", context),
              None, [request.membership.user.email])


# --- Daily digest -----------------------------------------------------------------------------------------------

REVIEWER_ROLES = (Role.ADMIN, Role.OWNER, Role.PRIMARY_OWNER)


DIGEST_CLAIM_LEASE = dt.timedelta(minutes=10)


def _digest_claim(*, organization: Organization, reviewer: Membership, day: dt.date, pending_count: int,
                  now: dt.datetime) -> DigestDelivery | None:
    """Claim today's digest for one admin: a new unique row, or an unsent claim whose lease ran out (its worker
    died before sending). None when it was sent, or another run holds a live claim."""
    try:
        with transaction.atomic():
            return DigestDelivery.objects.create(organization=organization, membership=reviewer, day=day,
                                                 pending_count=pending_count, created_at=now)
    except IntegrityError:
        pass
    # A conditional UPDATE takes the stale claim over: of two runs racing for it, exactly one updates the row.
    taken = DigestDelivery.objects.filter(
        membership=reviewer, day=day, sent_at__isnull=True, created_at__lt=now - DIGEST_CLAIM_LEASE
    ).update(created_at=now, pending_count=pending_count)
    return DigestDelivery.objects.get(membership=reviewer, day=day) if taken else None


def digest_send_for_organization(*, organization: Organization, now: dt.datetime) -> int:
    """Send each admin and above of the organization one email listing its pending requests, once per
    organization-local day. No email when nothing is pending. Returns the number of emails sent.

    Each (admin, day) is claimed with a unique row before its email is sent and stamped `sent_at` after, so a
    rerun sends nothing twice; a claim whose worker died before sending is taken over by the next run after a
    ten-minute lease (a worker dying in the instant between sending and stamping could repeat one email; none
    is lost)."""
    pending = pending_requests(organization=organization)
    if not pending:
        return 0
    day = local_date(now, organization.billing_timezone)
    reviewers = (
        Membership.objects.active().filter(organization=organization, role__in=REVIEWER_ROLES)
        .select_related("user").order_by("pk")
    )
    review_url = _site_url(reverse("extra_usage:review", kwargs={"slug": organization.slug}))
    sent = 0
    for reviewer in reviewers:
        claim = _digest_claim(organization=organization, reviewer=reviewer, day=day,
                              pending_count=len(pending), now=now)
        if claim is None:
            continue
        context = {"organization": organization, "pending": pending, "review_url": review_url,
                   "reviewer": reviewer}
        with translation.override(recipient_language(user=reviewer.user, organization=organization)):
            subject = ngettext("%(count)s pending request for extra usage in %(organization)s",
                               "%(count)s pending requests for extra usage in %(organization)s",
                               len(pending)) % {"count": len(pending), "organization": organization.name}
            body = render_to_string("extra_usage/email/digest.txt", context)
        send_mail(subject, body, None, [reviewer.user.email])
        DigestDelivery.objects.filter(pk=claim.pk).update(sent_at=now)
        sent += 1
    return sent
