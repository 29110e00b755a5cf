"""Team prepaid extra usage: purchases and reload charges (claimed, paid outside any transaction, settled once),
and the draw of each event's extra usage from the balance."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from apps.common.money import MAX_CAP_AMOUNT, ZERO, money_format
from apps.common.periods import period_containing
from apps.organizations.models import Organization, PlanKind
from apps.organizations.services import audit_record
from apps.usage.services import NewUsageEvent
from apps.webhooks import payloads
from apps.webhooks.services import webhook_event_emit

from ..models import ChargeKind, ChargeStatus, ExtraUsageSettings, LedgerKind, PrepaidCharge, PrepaidLedgerEntry
from ..payments import PaymentResult, payment_provider
from .switches import settings_change

logger = logging.getLogger(__name__)

MIN_PURCHASE = Decimal("5.00")
# A pending charge older than this was abandoned by a worker that died between claim and settlement; the sweep
# finishes it (the provider's idempotency key makes the retried charge the same charge).
STALE_CHARGE_AFTER = dt.timedelta(minutes=5)


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


def dollars_validate(value: Decimal | None, *, field: str, minimum: Decimal = ZERO,
                     allow_none: bool = False) -> Decimal | None:
    """A purchase or reload figure: whole cents from `minimum` up to MAX_CAP_AMOUNT (None only if allowed)."""
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



def charge_claim(*, organization: Organization, kind: str, amount: Decimal, idempotency_key: str, actor,
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
def charge_settle(*, charge_id: int, result: PaymentResult, now: dt.datetime) -> PrepaidCharge:
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
            settings_change(organization=organization, changes={"auto_reload_enabled": False},
                             action="extra_usage.auto_reload", actor=None, actor_label="auto-reload (payment failed)",
                             now=now)
    if auto:  # one event per settled auto-reload: prepaid.reloaded or prepaid.reload_failed
        webhook_event_emit(organization=organization, **payloads.prepaid_reload(charge), now=now)
    return charge


def charge_execute(*, charge: PrepaidCharge, now: dt.datetime) -> PrepaidCharge:
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
    return charge_settle(charge_id=charge.pk, result=result, now=now)


def prepaid_purchase(*, organization: Organization, amount: Decimal, idempotency_key: str, actor=None,
                     now: dt.datetime) -> PrepaidCharge:
    """An owner buys prepaid extra usage (Team). Not one transaction on purpose: the charge is claimed (a
    pending row, committed), the provider is called with no transaction open, then the outcome is settled.
    The same `idempotency_key` again (a double submit) returns the first charge and charges nothing. Returns
    the charge: `status` succeeded (balance raised by `amount`) or failed (`error` says why; balance unchanged).
    """
    if organization.plan_kind != PlanKind.TEAM:
        raise ValidationError("Prepaid extra usage is offered on Team plans.", code="not_offered")
    amount = dollars_validate(amount, field="amount", minimum=MIN_PURCHASE)
    if not idempotency_key or len(idempotency_key) > 90:
        raise ValidationError({"idempotency_key": "A purchase needs an idempotency key (at most 90 characters)."})
    charge, created = charge_claim(organization=organization, kind=ChargeKind.PURCHASE, amount=amount,
                                    idempotency_key=f"purchase:{idempotency_key}", actor=actor, now=now)
    if not created:
        return charge
    return charge_execute(charge=charge, now=now)
