"""Spending's writes: answering admission (the key's last use) and recording usage.

Recording: each priced request is stored once, funded (funding.py), counted and drawn from the prepaid balance
in one transaction. Usage is recorded even when it overshoots a cap (the request already happened); the answer
then says the member is blocked. When it newly reached a notice threshold or a Team reload threshold, the
follow-ups (followups.py) are queued after commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction

from apps.common.money import decimal_str
from apps.common.periods import Period, local_date, period_containing
from apps.common.tasks import enqueue_on_commit
from apps.extra_usage.services.prepaid import prepaid_draw
from apps.organizations.models import ApiKey, Organization, PlanKind
from apps.organizations.services import api_key_mark_used_if_stale
from apps.usage.models import UsageEvent, UsageEventKey
from apps.usage.pricing import NoPriceForDate, Tokens, UnknownModel, price_lookup, quote
from apps.usage.selectors import Counters
from apps.usage.services import NewUsageEvent, ledger_record, member_counters_lock

from .combining import StoreCombiner
from .funding import funding_split
from .selectors import (
    KeyedAdmission,
    MemberContext,
    OrgContext,
    admission_decide,
    admission_for_key,
    spend_context_for_key,
    spend_context_load,
    spend_contexts_load,
)
from .thresholds import spend_thresholds_newly_reached

logger = logging.getLogger(__name__)
# Auto-reload and spend notices after recorded usage, queued by name after commit (apps.common.tasks).
USAGE_FOLLOWUPS_TASK = "apps.spending.tasks.usage_followups"
MAX_PAST = dt.timedelta(days=400)


# --- Admission -----------------------------------------------------------------------------------------------


def admission_answer(*, raw_key: str, email: str, product: str | None, now: dt.datetime) -> KeyedAdmission | None:
    """The machine API's admission: the decision for the member with this (lower-cased) email, asked with this
    raw API key (None when the key is unknown or revoked), and the key marked used (at most once a minute).
    Not atomic on purpose: the one read runs alone, and the mark is its own asynchronous-commit statement."""
    keyed = admission_for_key(raw_key=raw_key, email=email, product=product, now=now)
    if keyed is not None:
        api_key_mark_used_if_stale(key=keyed.key, now=now)
    return keyed


# --- Recording -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageInput:
    idempotency_key: str
    member: str
    product: str
    model: str
    tokens: Tokens
    occurred_at: dt.datetime | None = None


@dataclass
class UsageOutcome:
    """`status`: created (charged now), replayed (same key and body: the first answer again, nothing charged),
    conflict (same key, different body), or invalid (`field` and `message` say why; nothing stored)."""

    status: str
    event: UsageEvent | NewUsageEvent | None = None
    field: str | None = None
    message: str | None = None

    def answer(self) -> dict:
        event = self.event
        return {
            "cost": decimal_str(event.cost),
            "currency": event.organization.currency if event.organization_id else "USD",
            "funding": event.funding,
            "member_month_to_date": decimal_str(event.member_month_to_date),
            "blocked": event.blocked_after,
        }


@dataclass
class _Pending:
    index: int
    item: UsageInput
    fingerprint: str
    occurred_at: dt.datetime
    model_id: int
    price: object
    quote: object
    email: str
    period: Period = None
    found: MemberContext | None = None
    outcome: UsageOutcome = field(default_factory=lambda: UsageOutcome("invalid"))


def usage_fingerprint(item: UsageInput) -> str:
    """A digest of what the client sent (not of defaults filled in by the server), to tell a retry from reuse."""
    body = [
        item.member.strip().lower(), item.product, item.model,
        item.occurred_at.isoformat() if item.occurred_at else None,
        item.tokens.input, item.tokens.output, item.tokens.cache_write, item.tokens.cache_read,
    ]
    return hashlib.sha256(json.dumps(body).encode()).hexdigest()


def _invalid(field_name: str, message: str) -> UsageOutcome:
    return UsageOutcome("invalid", field=field_name, message=message)


def _contexts_load(organization: Organization, pending: list[_Pending]) -> None:
    """Each pending event's member context (None: not a member), one statement per billing period."""
    by_period: dict[dt.date, list[_Pending]] = defaultdict(list)
    for p in pending:
        by_period[p.period.start].append(p)
    for group in by_period.values():
        period = group[0].period
        if len(group) == 1:  # the common request: one member
            found = spend_context_load(organization=organization, email=group[0].email, period=period)
            members = {group[0].email: found} if found is not None else {}
        else:
            _, members = spend_contexts_load(organization=organization, period=period,
                                             emails=sorted({p.email for p in group}))
        for p in group:
            p.found = members.get(p.email)


def usage_record_for_key(*, raw_key: str, item: UsageInput, now: dt.datetime,
                         key_check: Callable[[ApiKey], None]) -> UsageOutcome | None:
    """Record one event sent with this raw API key: None when the key is unknown or revoked. The key and the
    member's context are read by one statement (spend_context_for_key, as admission reads them); the key is
    marked used and handed to `key_check` (the caller's rate limit, which may raise) before anything else is
    decided, so the answers come in the same order as authenticating first. Then as usage_record_batch."""
    occurred_at = item.occurred_at or now
    at = occurred_at if occurred_at.tzinfo is not None and now - MAX_PAST <= occurred_at <= now + dt.timedelta(
        seconds=settings.USAGE_MAX_FUTURE_SKEW_SECONDS) else now  # a refused time: its context is not used
    email = item.member.strip().lower()
    keyed = spend_context_for_key(raw_key=raw_key, email=email, at=at)
    if keyed is None:
        return None
    key, period, found = keyed
    api_key_mark_used_if_stale(key=key, now=now)
    key_check(key)
    [outcome] = usage_record_batch(organization=key.organization, items=[item], now=now,
                                   preloaded={(email, period.start): found}, combine=True)
    return outcome


def usage_record_batch(*, organization: Organization, items: list[UsageInput], now: dt.datetime,
                       preloaded: dict[tuple[str, dt.date], MemberContext | None] | None = None,
                       combine: bool = False) -> list[UsageOutcome]:
    """Record up to USAGE_BATCH_MAX_EVENTS events for one organization, each independently: one bad event does
    not sink the others. Returns one outcome per item, in order. `preloaded`: contexts already read, by (email,
    period start), used for the first attempt. `combine`: a single event may be committed together with those of
    concurrent requests of this process (combining.py; not inside a caller's transaction)."""
    outcomes: list[UsageOutcome | None] = [None] * len(items)
    pending: list[_Pending] = []
    for index, item in enumerate(items):
        occurred_at = item.occurred_at or now
        if occurred_at.tzinfo is None:
            outcomes[index] = _invalid("occurred_at", "must include a time zone offset")
            continue
        if occurred_at > now + dt.timedelta(seconds=settings.USAGE_MAX_FUTURE_SKEW_SECONDS):
            outcomes[index] = _invalid("occurred_at", "is in the future")
            continue
        if occurred_at < now - MAX_PAST:
            outcomes[index] = _invalid("occurred_at", "is more than 400 days in the past")
            continue
        try:
            model, price = price_lookup(model_name=item.model, at=occurred_at)
        except UnknownModel:
            outcomes[index] = _invalid("model", f"unknown model {item.model!r}")
            continue
        except NoPriceForDate:
            outcomes[index] = _invalid("model", f"model {item.model!r} had no price at {occurred_at.isoformat()}")
            continue
        pending.append(
            _Pending(index, item, usage_fingerprint(item), occurred_at, model.pk, price,
                     quote(price, item.tokens), item.member.strip().lower(),
                     period_containing(occurred_at, organization.billing_timezone))
        )

    for attempt in range(3):
        if attempt == 0 and preloaded is not None and all((p.email, p.period.start) in preloaded for p in pending):
            for p in pending:
                p.found = preloaded[(p.email, p.period.start)]
        else:
            _contexts_load(organization, pending)
        valid = []
        for p in pending:
            if p.found is None:
                outcomes[p.index] = _invalid("member", "is not a member of this organization")
            else:
                valid.append(p)
        if not valid:
            break
        try:
            # A single event is inserted without looking for its key first: the unique constraint catches a
            # retry, and the second attempt then answers it as a replay or a conflict.
            if combine and attempt == 0 and len(valid) == 1 and not transaction.get_connection().in_atomic_block:
                store_combiner.store(organization=organization, pending=valid, now=now)
            else:
                _store(organization=organization, pending=valid, now=now,
                       look_up_keys=attempt > 0 or len(valid) > 1, look_up_archived=attempt > 0)
            break
        except IntegrityError:
            # The key was stored before (a retry of a single event), or another transaction stored one of these
            # keys between our look-up and our insert (only possible when one key is reused for different
            # members at once): start again with fresh contexts, so that event is answered as a replay or a
            # conflict.
            if attempt == 2:
                raise
    for p in pending:
        if p.found is not None:
            outcomes[p.index] = p.outcome
    return outcomes


def _store_in_transaction(*, organization: Organization, pending: list[_Pending], now: dt.datetime,
                          look_up_keys: bool, look_up_archived: bool = False) -> None:
    """Fund, count and store the pending events (their contexts loaded) in one transaction: the member counters
    are locked first, and each event is funded on the counters the one before it left."""
    locked: dict[tuple[int, dt.date], Counters] = {}
    by_period: dict[dt.date, list[int]] = defaultdict(list)
    for p in pending:
        by_period[p.period.start].append(p.found.membership.pk)
    for period_start in sorted(by_period):
        for mid, counters in member_counters_lock(
            organization_id=organization.pk, membership_ids=by_period[period_start], period_start=period_start
        ).items():
            locked[(mid, period_start)] = counters

    keys = [p.item.idempotency_key for p in pending]
    existing = {
        e.idempotency_key: e
        for e in UsageEvent.objects.filter(organization=organization, idempotency_key__in=keys).select_related(
            "organization"
        )
    } if look_up_keys else {}
    # A key whose event sits in an archived (detached) month of the ledger: still used, never charged again.
    archived = set(UsageEventKey.objects.filter(
        organization=organization, idempotency_key__in=set(keys) - existing.keys()
    ).values_list("idempotency_key", flat=True)) if look_up_archived else set()
    seen_in_batch: dict[str, _Pending] = {}
    new_events: list[NewUsageEvent] = []
    # Follow-ups (notices, auto-reload) are queued only when this usage may have made one due.
    notify_members: set[int] = set()
    followups_due = False

    for p in pending:
        key = p.item.idempotency_key
        earlier = existing.get(key) or (seen_in_batch[key].outcome.event if key in seen_in_batch else None)
        if earlier is not None:
            same = earlier.fingerprint == p.fingerprint
            p.outcome = UsageOutcome("replayed", earlier) if same else UsageOutcome(
                "conflict", field="idempotency_key", message="was already used with a different request body",
            )
            continue
        if key in archived:  # its first answer went with the archived month: say so, charge nothing
            p.outcome = UsageOutcome("conflict", field="idempotency_key",
                                     message="was already used by an event of an archived month")
            continue
        membership, tier, context = p.found.membership, p.found.tier, p.found.context
        slot = (membership.pk, p.period.start)
        before = locked[slot]
        split = funding_split(plan_kind=organization.plan_kind, tier=tier, counters=before, cost=p.quote.cost)
        after = locked[slot] = Counters(before.spend + split.cost, before.included_spend + split.included)
        org_before = context.org
        context.org = Counters(org_before.spend + split.cost, org_before.included_spend + split.included)
        # Decided before this event's prepaid draw (the API's `blocked`): a balance the event empties refuses the
        # next admission, not this answer.
        decision = admission_decide(context=context, membership=membership, tier=tier, product=None, member=after,
                                    now=now, with_request_hint=False)
        context.settings.prepaid_balance -= split.prepaid
        if spend_thresholds_newly_reached(
            thresholds=context.notice_thresholds, caps=context.caps, membership_id=membership.pk, tier=tier,
            seat_based=organization.is_seat_based, before=before, after=after, org_before=org_before,
            org_after=context.org,
        ):
            notify_members.add(membership.pk)
            followups_due = True
        followups_due = followups_due or _reload_due(context)

        event = NewUsageEvent(
            organization=organization,
            membership_id=membership.pk,
            idempotency_key=key,
            fingerprint=p.fingerprint,
            product=p.item.product,
            model_id=p.model_id,
            price_id=p.price.pk,
            input_tokens=p.item.tokens.input,
            output_tokens=p.item.tokens.output,
            cache_write_tokens=p.item.tokens.cache_write,
            cache_read_tokens=p.item.tokens.cache_read,
            long_context=p.quote.long_context,
            rate_input=p.quote.input,
            rate_output=p.quote.output,
            rate_cache_write=p.quote.cache_write,
            rate_cache_read=p.quote.cache_read,
            cost=split.cost,
            included_cost=split.included,
            funding=split.funding,
            occurred_at=p.occurred_at,
            received_at=now,
            period_start=p.period.start,
            member_month_to_date=after.spend,
            blocked_after=not decision.allowed,
        )
        p.outcome = UsageOutcome("created", event)
        seen_in_batch[key] = p
        new_events.append(event)

    if not new_events:
        return
    ledger_record(
        events=new_events,
        local_days=[local_date(e.occurred_at, organization.billing_timezone) for e in new_events],
        now=now,
    )
    if organization.plan_kind == PlanKind.TEAM:
        prepaid_draw(events=new_events, now=now)
    if followups_due:
        member_ids = sorted(notify_members)
        enqueue_on_commit(USAGE_FOLLOWUPS_TASK, organization.pk, member_ids)


_store = transaction.atomic(_store_in_transaction)
# Single events of concurrent requests in this process, committed together (combining.py).
store_combiner = StoreCombiner(store_alone=_store, store_in_transaction=_store_in_transaction)


def _reload_due(context: OrgContext) -> bool:
    """Team with auto-reload on: the balance is at or below the reload threshold."""
    settings_now = context.settings
    return (context.organization.plan_kind == PlanKind.TEAM and settings_now.auto_reload_enabled
            and settings_now.reload_threshold is not None
            and settings_now.prepaid_balance <= settings_now.reload_threshold)
