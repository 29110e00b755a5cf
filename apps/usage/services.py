"""Writes for usage: spend caps, and the ledger primitives that store priced events with their counters.

Ledger rules:
- An event is stored once per (organization, idempotency key): the unique constraint is the guard.
- The member's counter row is locked (SELECT … FOR UPDATE through an upsert) before the event's funding is
  split, so concurrent events of one member serialize on that member only.
- The organization's total lives in ORG_COUNTER_SLOTS rows; each event adds to one at random, so a large
  organization's members do not queue on one hot row.
- Counters, slots and daily rollups change by addition (UPDATE … SET x = x + n) in the event's transaction.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from apps.common.money import CENT, INVOICE_ROUNDING, MAX_CAP_AMOUNT, ZERO
from apps.organizations.models import Membership, Organization, PlanKind
from apps.organizations.services import audit_record
from apps.seats.models import SeatTier

from .models import CapScope, MemberPeriodUsage, OrgUsageSlot, SpendCap, UsageDailyRollup, UsageEvent
from .selectors import Counters


def cap_amount_validate(amount: Decimal | None) -> Decimal | None:
    """A cap is unlimited (None) or a non-negative amount with at most two decimals, up to MAX_CAP_AMOUNT."""
    if amount is None:
        return None
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValidationError({"amount": "Enter an amount in dollars."})
    if amount < 0:
        raise ValidationError({"amount": "The limit cannot be negative."})
    if amount.as_tuple().exponent < -2:
        raise ValidationError({"amount": "Use at most two decimal places."})
    if amount > MAX_CAP_AMOUNT:
        raise ValidationError({"amount": f"The limit cannot exceed ${MAX_CAP_AMOUNT:,.0f} a month."})
    return amount


def _cap_target_label(cap: SpendCap) -> str:
    if cap.scope == CapScope.ORGANIZATION:
        return "organization"
    if cap.scope == CapScope.SEAT_TIER:
        return f"tier:{cap.tier.code}"
    return f"member:{cap.membership.user.email}"


def _money_json(amount: Decimal | None) -> str | None:
    # Always two places, whether the amount came from the form ("10") or the database ("10.00"). Caps are whole
    # cents (cap_amount_validate), so this widens and never rounds.
    return None if amount is None else str(amount.quantize(CENT, rounding=INVOICE_ROUNDING))


@transaction.atomic
def cap_set(
    *,
    organization: Organization,
    scope: str,
    amount: Decimal | None,
    actor=None,
    actor_label: str | None = None,
    tier: SeatTier | None = None,
    membership: Membership | None = None,
    now: dt.datetime | None = None,
) -> SpendCap:
    """Set a monthly cap (None: unlimited) at one level. The next admission sees it.

    Tier caps are offered on Enterprise plans only. Writes an audit row (old → new) unless nothing changed.
    The cap row is kept when set to unlimited, so its id stays stable for the Admin API.
    """
    now = now or timezone.now()
    amount = cap_amount_validate(amount)
    lookup = {"organization": organization, "scope": scope}
    if scope == CapScope.SEAT_TIER:
        if organization.plan_kind == PlanKind.TEAM:
            raise ValidationError({"scope": "Seat-tier limits are not offered on Team plans."})
        if tier is None or tier.organization_id != organization.pk:
            raise ValidationError({"tier": "Choose a seat tier of this organization."})
        lookup["tier"] = tier
    elif scope == CapScope.MEMBER:
        if membership is None or membership.organization_id != organization.pk:
            raise ValidationError({"membership": "Choose a member of this organization."})
        lookup["membership"] = membership
    elif scope != CapScope.ORGANIZATION:
        raise ValidationError({"scope": "Unknown cap level."})

    cap = SpendCap.objects.select_for_update().filter(**lookup).first()
    old = cap.amount if cap else None
    if cap is None:
        cap = SpendCap.objects.create(**lookup, amount=amount, created_at=now, updated_at=now)
    elif old == amount:
        return cap
    else:
        cap.amount = amount
        cap.updated_at = now
        cap.save(update_fields=["amount", "updated_at"])
    if cap is not None and (old != amount):
        audit_record(
            organization=organization,
            actor=actor,
            actor_label=actor_label,
            action=f"cap.{scope}",
            target=_cap_target_label(cap),
            old=_money_json(old),
            new=_money_json(amount),
            now=now,
        )
    return cap


@transaction.atomic
def cap_delete(*, cap: SpendCap, actor=None, actor_label: str | None = None, now=None) -> None:
    """Remove a member's own cap; they fall back to their tier and organization caps. Audited."""
    if cap.scope != CapScope.MEMBER:
        raise ValidationError({"scope": "Only a member's own limit can be removed."})
    audit_record(
        organization=cap.organization, actor=actor, actor_label=actor_label, action="cap.member.delete",
        target=_cap_target_label(cap), old=_money_json(cap.amount), new=None, now=now,
    )
    cap.delete()


# --- Ledger primitives (called by the gateway inside its transaction) ---------------------------------------


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _additive_upsert(model, *, keys: list[str], added: list[str], rows: list[tuple],
                     fixed: tuple[str, ...] = ()) -> None:
    """INSERT rows, or add their `added` values to the existing rows with the same key, in one statement.
    Each row holds its key values, then its `fixed` values (written on insert only), then its added values;
    keys must be distinct within one call."""
    if not rows:
        return
    table = _table(model)
    qn = connection.ops.quote_name
    columns = [*keys, *fixed, *added]
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    updates = ", ".join(f"{qn(c)} = {table}.{qn(c)} + EXCLUDED.{qn(c)}" for c in added)
    sql = (
        f"INSERT INTO {table} ({', '.join(qn(c) for c in columns)}) VALUES "
        + ", ".join([placeholders] * len(rows))
        + f" ON CONFLICT ({', '.join(qn(c) for c in keys)}) DO UPDATE SET {updates}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])


def member_counters_lock(*, organization_id: int, membership_ids: list[int], period_start) -> dict[int, Counters]:
    """Create (if missing) and lock the members' counter rows for the period, in id order so that concurrent
    batches cannot deadlock, and return their current values."""
    ids = sorted(set(membership_ids))
    table = _table(MemberPeriodUsage)
    placeholders = ", ".join(["(%s, %s, %s, 0, 0, 0)"] * len(ids))
    params = []
    for mid in ids:
        params += [organization_id, mid, period_start]
    # One statement creates the missing rows and locks the existing ones: ON CONFLICT DO UPDATE (here a no-op
    # update) takes the row lock and RETURNING gives the latest committed values, as SELECT … FOR UPDATE would.
    # Rows are taken in VALUES order, i.e. by membership id.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (organization_id, membership_id, period_start, spend, included_spend, "
            f"event_count) VALUES {placeholders} ON CONFLICT (membership_id, period_start) "
            f"DO UPDATE SET event_count = {table}.event_count RETURNING membership_id, spend, included_spend",
            params,
        )
        rows = cursor.fetchall()
    return {mid: Counters(_decimal(spend), _decimal(included)) for mid, spend, included in rows}


def _decimal(value) -> Decimal:
    # PostgreSQL returns numeric as Decimal; the demo's SQLite returns its stored REAL (or int).
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _org_slots_add(slots: dict[tuple, list]) -> None:
    """Add to the organization's counter slots without queueing behind another transaction: take the first
    slot row nobody holds (FOR UPDATE SKIP LOCKED), and only when every existing slot is held fall back to the
    random slot (created if missing, up to ORG_COUNTER_SLOTS), which may wait. Each addition still goes to
    exactly one slot in this transaction, so the slots' sum stays the organization's exact total."""
    table = _table(OrgUsageSlot)
    if connection.vendor != "postgresql":  # the demo's SQLite: no row locks to skip
        _additive_upsert(OrgUsageSlot, keys=["organization_id", "period_start", "slot"],
                         added=["spend", "included_spend", "event_count"],
                         rows=[(*key, *values) for key, values in slots.items()])
        return
    fallback = []
    with connection.cursor() as cursor:
        for (organization_id, period_start, slot), (spend, included, count) in slots.items():
            cursor.execute(
                f"WITH free AS (SELECT id FROM {table} WHERE organization_id = %s AND period_start = %s "
                f"LIMIT 1 FOR UPDATE SKIP LOCKED) "
                f"UPDATE {table} AS s SET spend = s.spend + %s, included_spend = s.included_spend + %s, "
                f"event_count = s.event_count + %s FROM free WHERE s.id = free.id RETURNING s.id",
                [organization_id, period_start, spend, included, count],
            )
            if cursor.fetchone() is None:
                fallback.append((organization_id, period_start, slot, spend, included, count))
    _additive_upsert(OrgUsageSlot, keys=["organization_id", "period_start", "slot"],
                     added=["spend", "included_spend", "event_count"], rows=fallback)


def ledger_apply(*, events: list[UsageEvent], local_days: list[dt.date], now: dt.datetime) -> None:
    """Add stored events to the member counters, the organization's slots and the daily rollups.

    Call in the transaction that inserted the events, after member_counters_lock for their members.
    `local_days[i]` is event i's day in the organization's billing time zone.
    """
    members: dict[tuple, list] = defaultdict(lambda: [ZERO, ZERO, 0, None])
    slots: dict[tuple, list] = defaultdict(lambda: [ZERO, ZERO, 0])
    rollups: dict[tuple, list] = defaultdict(lambda: [ZERO, ZERO, 0, 0, 0, 0, 0, None])
    slot_count = settings.ORG_COUNTER_SLOTS
    slot = random.randrange(slot_count)  # one slot per call: a batch touches one org row per period
    for event, day in zip(events, local_days, strict=True):
        m = members[(event.membership_id, event.period_start)]
        m[0] += event.cost
        m[1] += event.included_cost
        m[2] += 1
        if event.cost > event.included_cost and m[3] is None:
            m[3] = event.occurred_at
        s = slots[(event.organization_id, event.period_start, slot)]
        s[0] += event.cost
        s[1] += event.included_cost
        s[2] += 1
        r = rollups[(event.membership_id, day, event.model_id, event.product)]
        r[0] += event.cost
        r[1] += event.included_cost
        r[2] += event.input_tokens
        r[3] += event.output_tokens
        r[4] += event.cache_write_tokens
        r[5] += event.cache_read_tokens
        r[6] += 1
        r[7] = (event.organization_id, event.period_start)

    table = _table(MemberPeriodUsage)
    # All members' counters in one UPDATE … FROM (VALUES …): their rows are already locked by
    # member_counters_lock in this transaction, so the statement's row order cannot deadlock.
    values = ", ".join(["(%s::bigint, %s::date, %s::numeric, %s::numeric, %s::bigint, %s::timestamptz)"] * len(members))
    params = []
    for (membership_id, period_start), (spend, included, count, extra_at) in members.items():
        params += [membership_id, period_start, spend, included, count, extra_at]
    if members and connection.vendor != "postgresql":
        # The demo's SQLite has no UPDATE … FROM (VALUES …) with casts: one UPDATE per member instead.
        with connection.cursor() as cursor:
            for (membership_id, period_start), (spend, included, count, extra_at) in members.items():
                cursor.execute(
                    f"UPDATE {table} SET spend = spend + %s, included_spend = included_spend + %s, "
                    f"event_count = event_count + %s, "
                    f"extra_usage_started_at = COALESCE(extra_usage_started_at, %s) "
                    f"WHERE membership_id = %s AND period_start = %s",
                    [spend, included, count, extra_at, membership_id, period_start],
                )
    elif members:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS t SET spend = t.spend + v.spend, included_spend = t.included_spend + v.included, "
                f"event_count = t.event_count + v.n, "
                f"extra_usage_started_at = COALESCE(t.extra_usage_started_at, v.extra_at) "
                f"FROM (VALUES {values}) AS v (membership_id, period_start, spend, included, n, extra_at) "
                f"WHERE t.membership_id = v.membership_id AND t.period_start = v.period_start",
                params,
            )
    _org_slots_add(slots)
    _additive_upsert(
        UsageDailyRollup,
        keys=["membership_id", "day", "model_id", "product"],
        fixed=("organization_id", "period_start"),
        added=["cost", "included_cost", "input_tokens", "output_tokens", "cache_write_tokens",
               "cache_read_tokens", "event_count"],
        rows=[(*key, *values[7], *values[:7]) for key, values in rollups.items()],
    )
