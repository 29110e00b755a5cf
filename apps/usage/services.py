"""Writes for usage: spend caps, and the ledger primitives that store priced events with their counters.

Ledger rules:
- An event is stored once per (organization, idempotency key): the primary key of UsageEventKey, written by
  the event's own insert statement, is the guard (the event table is partitioned by month, and a partitioned
  table's unique keys can only hold within a month).
- The member's counter row is locked (SELECT … FOR UPDATE through an upsert) before the event's funding is
  split, so concurrent events of one member serialize on that member only.
- The organization's total lives in ORG_COUNTER_SLOTS rows; each event adds to one at random, so a large
  organization's members do not queue on one hot row.
- Counters, slots and daily rollups change by addition (UPDATE … SET x = x + n) in the event's transaction.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection, models, transaction
from django.utils import timezone

from apps.common.money import CENT, INVOICE_ROUNDING, MAX_CAP_AMOUNT, ZERO
from apps.common.sql import server_bound_fetchall
from apps.organizations.models import Membership, Organization, PlanKind
from apps.organizations.services import audit_record
from apps.seats.models import SeatTier

from .models import (
    CapScope,
    MemberPeriodUsage,
    OrgUsageSlot,
    SpendCap,
    UsageDailyRollup,
    UsageEvent,
    UsageEventKey,
    UsageHourlyRollup,
)
from .pricing import PER_MILLION
from .selectors import Counters


def cap_amount_validate(amount: Decimal | None) -> Decimal | None:
    """The one rule for a cap's amount, whoever sets it (owner pages, Admin API, request approval): unlimited
    (None) or a whole number of cents from $0 up to MAX_CAP_AMOUNT. Returns it with two decimal places.

    $0 is a real limit, as in the Spend Limits API (`amount: "0"`): at the member or tier level on seat-based
    plans it allows no spend beyond the included usage; at the organization level, or on usage-based
    Enterprise, no spend at all."""
    if amount is None:
        return None
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValidationError({"amount": "Enter an amount in dollars."})
    if amount < 0:
        raise ValidationError({"amount": "The limit cannot be negative."})
    if amount > MAX_CAP_AMOUNT:  # before the cents check: quantizing a huge number is an InvalidOperation
        # The same text as in apps/common/service_messages.py, so pages show it translated.
        raise ValidationError({"amount": f"The limit cannot exceed ${MAX_CAP_AMOUNT:,.2f} a month."})
    if amount != amount.quantize(CENT, rounding=INVOICE_ROUNDING):
        raise ValidationError({"amount": "Use at most two decimal places."})
    return amount.quantize(CENT, rounding=INVOICE_ROUNDING)  # exact: only whole cents get here


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


# --- Ledger primitives (called by usage recording inside its transaction) ----------------------------------


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
    sql = (f"INSERT INTO {table} (organization_id, membership_id, period_start, spend, included_spend, "
           f"event_count) VALUES {placeholders} ON CONFLICT (membership_id, period_start, organization_id) "
           f"DO UPDATE SET event_count = {table}.event_count RETURNING membership_id, spend, included_spend")
    rows = server_bound_fetchall(sql, params, prepare=len(ids) == 1)
    return {mid: Counters(spend, included) for mid, spend, included in rows}


def _ledger_sums(events: list[NewUsageEvent], local_days: list[dt.date]) -> tuple[dict, dict, dict]:
    """What the events add to each member counter, organization slot and daily rollup."""
    members: dict[tuple, list] = defaultdict(lambda: [ZERO, ZERO, 0, None])
    slots: dict[tuple, list] = defaultdict(lambda: [ZERO, ZERO, 0])
    rollups: dict[tuple, list] = defaultdict(lambda: [ZERO, ZERO, 0, 0, 0, 0, 0, None])
    slot = random.randrange(settings.ORG_COUNTER_SLOTS)  # one slot per call: a batch touches one org row per period
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
    return members, slots, rollups


_ROLLUP_ADDED = ["cost", "included_cost", "input_tokens", "output_tokens", "cache_write_tokens",
                 "cache_read_tokens", "event_count"]
_HOURLY_KEYS = ["membership_id", "hour", "model_id", "product", "long_context"]
_HOURLY_ADDED = ["input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens", "input_cost",
                 "output_cost", "cache_write_cost", "cache_read_cost", "event_count"]


def _hourly_sums(events: list[NewUsageEvent]) -> dict[tuple, list]:
    """What the events add to each hourly rollup row (key: _HOURLY_KEYS; values: organization id, then
    _HOURLY_ADDED). A kind's cost is its tokens × the event's rate ÷ 1,000,000, as pricing.quote computes it,
    so the four kinds add up to the event's cost exactly."""
    rows: dict[tuple, list] = {}
    for event in events:
        hour = event.occurred_at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
        key = (event.membership_id, hour, event.model_id, event.product, event.long_context)
        row = rows.get(key)
        if row is None:
            row = rows[key] = [event.organization_id, 0, 0, 0, 0, ZERO, ZERO, ZERO, ZERO, 0]
        row[1] += event.input_tokens
        row[2] += event.output_tokens
        row[3] += event.cache_write_tokens
        row[4] += event.cache_read_tokens
        row[5] += event.input_tokens * event.rate_input / PER_MILLION
        row[6] += event.output_tokens * event.rate_output / PER_MILLION
        row[7] += event.cache_write_tokens * event.rate_cache_write / PER_MILLION
        row[8] += event.cache_read_tokens * event.rate_cache_read / PER_MILLION
        row[9] += 1
    return rows


# Field types whose Python values psycopg stores as they are (no Django conversion needed; DateField includes
# DateTimeField).
_PLAIN_FIELDS = (models.BigIntegerField, models.IntegerField, models.SmallIntegerField, models.CharField,
                 models.TextField, models.DecimalField, models.DateField, models.BooleanField, models.ForeignKey)


@dataclass(frozen=True)
class _EventInsert:
    many: str  # INSERT … SELECT FROM unnest(one array per column) RETURNING id and the idempotency key's columns
    one: str  # INSERT … VALUES (one value per column) RETURNING the same
    keys: str  # INSERT INTO the idempotency-key table SELECT … FROM the insert's rows (the CTE "ins")
    attnames: list[str]


@functools.cache
def _event_insert_plan() -> _EventInsert:
    """The INSERT statements for UsageEvent, handing psycopg the values as they are (Django's bulk_create
    prepares each value first: the largest cost of a 1,000-event batch)."""
    fields = [f for f in UsageEvent._meta.concrete_fields if not f.primary_key]
    for f in fields:
        if not isinstance(f, _PLAIN_FIELDS) or getattr(f, "auto_now", False) \
                or getattr(f, "auto_now_add", False):
            raise ImproperlyConfigured(f"UsageEvent.{f.name} needs Django's value conversion; extend ledger_record")
    qn = connection.ops.quote_name
    types = [f.cast_db_type(connection) or f.db_type(connection) for f in fields]
    head = f"INSERT INTO {qn(UsageEvent._meta.db_table)} ({', '.join(qn(f.column) for f in fields)})"
    returning = f"RETURNING {qn(UsageEvent._meta.pk.column)}, organization_id, idempotency_key, period_start"
    # %b: each column array travels in binary, about half the cost of dumping it as text (make bench).
    many = f"{head} SELECT * FROM unnest({', '.join(f'%b::{t}[]' for t in types)}) {returning}"
    one = f"{head} VALUES ({', '.join(f'%s::{t}' for t in types)}) {returning}"
    keys = (f"INSERT INTO {qn(UsageEventKey._meta.db_table)} (organization_id, idempotency_key, period_start, "
            f"event_id) SELECT organization_id, idempotency_key, period_start, {qn(UsageEvent._meta.pk.column)} "
            f"FROM ins RETURNING 1")
    return _EventInsert(many, one, keys, [f.attname for f in fields])


@dataclass(slots=True)
class NewUsageEvent:
    """A priced event for ledger_record to store: UsageEvent's columns under the same attribute names, without
    building a model instance per event (about 40 µs each, a fifth of a 1,000-event batch; see make bench)."""

    organization: Organization
    membership_id: int
    idempotency_key: str
    fingerprint: str
    product: str
    model_id: int
    price_id: int
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    long_context: bool
    rate_input: Decimal
    rate_output: Decimal
    rate_cache_write: Decimal
    rate_cache_read: Decimal
    cost: Decimal
    included_cost: Decimal
    funding: str
    occurred_at: dt.datetime
    received_at: dt.datetime
    period_start: dt.date
    member_month_to_date: Decimal
    blocked_after: bool
    pk: int | None = None

    @property
    def organization_id(self) -> int:
        return self.organization.pk


def ledger_record(*, events: list[NewUsageEvent], local_days: list[dt.date], now: dt.datetime) -> None:
    """Store new events and add them to the member counters, the organization's slots and the daily and hourly
    rollups.

    One statement (data-modifying CTEs): the events' insert, one UPDATE of every member counter, one upsert of
    every daily rollup, one of every hourly rollup, and per period the first organization slot nobody holds (FOR
    UPDATE SKIP LOCKED). Only when every slot of a period is held (or none exists yet) does a second statement
    add to a random slot, which may wait. Each addition goes to exactly one slot in this transaction, so the
    slots' sum stays the organization's exact total. The same statement inserts each event's idempotency key
    into UsageEventKey: a reused key fails the whole statement on that table's primary key (IntegrityError),
    and nothing is written.

    Call in the transaction that decided the events' funding, after member_counters_lock for their members.
    `local_days[i]` is event i's day in the organization's billing time zone. Sets each event's primary key.
    """
    members, slots, rollups = _ledger_sums(events, local_days)
    qn = connection.ops.quote_name
    plan = _event_insert_plan()
    if len(events) == 1:  # one row: plain values, cheaper to send than 24 one-element arrays
        ctes = [f"ins AS ({plan.one})"]
        params: list = [getattr(events[0], name) for name in plan.attnames]
    else:
        ctes = [f"ins AS ({plan.many})"]
        params = [[getattr(event, name) for event in events] for name in plan.attnames]
    ctes.append(f"keys AS ({plan.keys})")  # the exactly-once guard, in the same statement as the events

    member_table = _table(MemberPeriodUsage)
    # Every member's counters in one UPDATE … FROM (VALUES …): their rows are already locked by
    # member_counters_lock in this transaction, so the statement's row order cannot deadlock.
    values = ", ".join(["(%s::bigint, %s::date, %s::numeric, %s::numeric, %s::bigint, %s::timestamptz)"] * len(members))
    ctes.append(
        f"mem AS (UPDATE {member_table} AS t SET spend = t.spend + v.spend, "
        f"included_spend = t.included_spend + v.included, event_count = t.event_count + v.n, "
        f"extra_usage_started_at = COALESCE(t.extra_usage_started_at, v.extra_at) "
        f"FROM (VALUES {values}) AS v (membership_id, period_start, spend, included, n, extra_at) "
        f"WHERE t.membership_id = v.membership_id AND t.period_start = v.period_start RETURNING 1)"
    )
    for (membership_id, period_start), (spend, included, count, extra_at) in members.items():
        params += [membership_id, period_start, spend, included, count, extra_at]

    rollup_table = _table(UsageDailyRollup)
    columns = ["membership_id", "day", "model_id", "product", "organization_id", "period_start", *_ROLLUP_ADDED]
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    updates = ", ".join(f"{qn(c)} = {rollup_table}.{qn(c)} + EXCLUDED.{qn(c)}" for c in _ROLLUP_ADDED)
    ctes.append(
        f"roll AS (INSERT INTO {rollup_table} ({', '.join(qn(c) for c in columns)}) VALUES "
        + ", ".join([row] * len(rollups))
        + f" ON CONFLICT (membership_id, day, model_id, product, organization_id) DO UPDATE SET {updates} RETURNING 1)"
    )
    for key, added in rollups.items():
        params += [*key, *added[7], *added[:7]]

    # The Usage and Cost Analytics API's hourly rollup, upserted the same way.
    hourly = _hourly_sums(events)
    hourly_table = _table(UsageHourlyRollup)
    columns = [*_HOURLY_KEYS, "organization_id", *_HOURLY_ADDED]
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    updates = ", ".join(f"{qn(c)} = {hourly_table}.{qn(c)} + EXCLUDED.{qn(c)}" for c in _HOURLY_ADDED)
    ctes.append(
        f"hourly AS (INSERT INTO {hourly_table} ({', '.join(qn(c) for c in columns)}) VALUES "
        + ", ".join([row] * len(hourly))
        + f" ON CONFLICT ({', '.join(qn(c) for c in [*_HOURLY_KEYS, 'organization_id'])}) DO UPDATE SET {updates} "
        "RETURNING 1)"
    )
    for key, added in hourly.items():
        params += [*key, *added]

    slot_table = _table(OrgUsageSlot)
    slot_keys = list(slots)
    for n, key in enumerate(slot_keys):
        organization_id, period_start, _ = key
        spend, included, count = slots[key]
        ctes.append(
            f"free{n} AS (SELECT id FROM {slot_table} WHERE organization_id = %s AND period_start = %s "
            f"LIMIT 1 FOR UPDATE SKIP LOCKED)"
        )
        ctes.append(
            f"slot{n} AS (UPDATE {slot_table} AS s SET spend = s.spend + %s, included_spend = s.included_spend + %s, "
            f"event_count = s.event_count + %s FROM free{n} WHERE s.id = free{n}.id RETURNING {n} AS n)"
        )
        params += [organization_id, period_start, spend, included, count]
    # Slot rows first (which periods found a free slot), then the new events' ids in insertion order.
    select = " UNION ALL ".join(
        [f"SELECT -1 - n, NULL::bigint FROM slot{n}" for n in range(len(slot_keys))]
        + [f"SELECT 0, {qn(UsageEvent._meta.pk.column)} FROM ins"]
    )
    # Server-side binding: psycopg sends the column arrays as values instead of quoting them into the SQL
    # text; a single event's statement never changes shape, so it is also planned once per connection.
    rows = server_bound_fetchall(f"WITH {', '.join(ctes)} {select}", params, prepare=len(events) == 1)
    ids = [pk for tag, pk in rows if tag == 0]
    for event, pk in zip(events, ids, strict=True):
        event.pk = pk
    added_to = {-1 - tag for tag, _ in rows if tag < 0}
    _additive_upsert(OrgUsageSlot, keys=["organization_id", "period_start", "slot"],
                     added=["spend", "included_spend", "event_count"],
                     rows=[(*key, *slots[key]) for n, key in enumerate(slot_keys) if n not in added_to])
