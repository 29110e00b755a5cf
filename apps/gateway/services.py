"""Recording usage: each priced request stored once, funded, counted and drawn from the prepaid balance in one
transaction.

Funding on seat-based plans: the seat's included usage first; an event that crosses the end of the allowance
is split (`included_cost` is the part inside it); the rest is extra usage (drawn from the prepaid balance on
Team, billed in arrears on seat-based Enterprise). On usage-based Enterprise everything is pooled spend.
Usage is recorded even when it overshoots a cap (the request already happened); the answer then says the
member is blocked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from apps.common.money import ZERO, decimal_str
from apps.common.periods import local_date, period_containing
from apps.extra_usage.services.prepaid import prepaid_draw
from apps.monitoring.selectors import notification_thresholds
from apps.monitoring.services import spend_thresholds_newly_reached
from apps.organizations.models import Organization, PlanKind
from apps.usage.models import Funding, UsageEvent
from apps.usage.pricing import NoPriceForDate, Tokens, UnknownModel, price_lookup, quote
from apps.usage.selectors import Counters
from apps.usage.services import NewUsageEvent, ledger_record, member_counters_lock

from .selectors import admission_decide, member_context_load, member_seats, org_context_load

logger = logging.getLogger(__name__)
MAX_PAST = dt.timedelta(days=400)


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
    period_start: dt.date = None
    membership_id: int = 0
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


def usage_record_batch(*, organization: Organization, items: list[UsageInput], now: dt.datetime) -> list[UsageOutcome]:
    """Record up to USAGE_BATCH_MAX_EVENTS events for one organization, each independently: one bad event does
    not sink the others. Returns one outcome per item, in order."""
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
                     quote(price, item.tokens), item.member.strip().lower())
        )

    contexts = None
    if connection.vendor == "postgresql" and len(pending) == 1:
        # One event (the common request): its member and organization context in one prepared statement.
        found = member_context_load(organization=organization, email=pending[0].email, at=pending[0].occurred_at)
        seats = {pending[0].email: (found.membership, found.tier)} if found is not None else {}
        if found is not None:
            contexts = {found.context.period.start: found.context}
    else:
        seats = member_seats(organization=organization, emails=sorted({p.email for p in pending}))
    valid = []
    for p in pending:
        if p.email not in seats:
            outcomes[p.index] = _invalid("member", "is not a member of this organization")
            continue
        p.membership_id = seats[p.email][0].pk
        p.period_start = period_containing(p.occurred_at, organization.billing_timezone).start
        valid.append(p)

    if valid:
        for attempt in range(3):
            try:
                # A single event is inserted without looking for its key first: the unique constraint catches
                # a retry, and the second attempt then answers it as a replay or a conflict.
                _store(organization=organization, pending=valid, seats=seats, now=now,
                       contexts=dict(contexts) if contexts and attempt == 0 else None,
                       look_up_keys=attempt > 0 or len(valid) > 1)
                break
            except IntegrityError:
                # The key was stored before (a retry of a single event), or another transaction stored one of
                # these keys between our look-up and our insert (only possible when one key is reused for
                # different members at once): start again, so that event is answered as a replay or a conflict.
                if attempt == 2:
                    raise
        for p in valid:
            outcomes[p.index] = p.outcome
    return outcomes


@transaction.atomic
def _store(*, organization: Organization, pending: list[_Pending], seats: dict, now: dt.datetime,
           contexts: dict | None = None, look_up_keys: bool = True) -> None:
    by_period: dict[dt.date, list[_Pending]] = defaultdict(list)
    for p in pending:
        by_period[p.period_start].append(p)
    locked: dict[tuple[int, dt.date], Counters] = {}
    for period_start in sorted(by_period):
        ids = [p.membership_id for p in by_period[period_start]]
        for mid, counters in member_counters_lock(
            organization_id=organization.pk, membership_ids=ids, period_start=period_start
        ).items():
            locked[(mid, period_start)] = counters

    keys = [p.item.idempotency_key for p in pending]
    existing = {
        e.idempotency_key: e
        for e in UsageEvent.objects.filter(organization=organization, idempotency_key__in=keys).select_related(
            "organization"
        )
    } if look_up_keys else {}
    seen_in_batch: dict[str, _Pending] = {}
    new_events: list[NewUsageEvent] = []
    new_pending: list[_Pending] = []
    memberships = {m.pk: (m, tier) for m, tier in seats.values()}
    contexts = contexts or {}
    org_running: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    # Follow-ups (notices, auto-reload) are queued only when this usage may have made one due.
    notify_members: set[int] = set()
    followups_due = False

    for p in pending:
        key = p.item.idempotency_key
        earlier = existing.get(key) or (seen_in_batch[key].outcome.event if key in seen_in_batch else None)
        if earlier is not None:
            same = earlier.fingerprint == p.fingerprint
            p.outcome = UsageOutcome("replayed", earlier) if same else UsageOutcome(
                "conflict", field="idempotency_key",
                message="was already used with a different request body",
            )
            continue
        membership, tier = memberships[p.membership_id]
        counters = before = locked[(p.membership_id, p.period_start)]
        cost = p.quote.cost
        included = ZERO
        if organization.plan_kind != PlanKind.ENTERPRISE_USAGE and tier is not None:
            left = tier.included_usage.amount - counters.included_spend
            included = min(cost, max(left, ZERO))
        if organization.plan_kind == PlanKind.ENTERPRISE_USAGE:
            funding = Funding.POOLED
        else:
            funding = Funding.INCLUDED if included == cost else Funding.EXTRA_USAGE
        counters = Counters(counters.spend + cost, counters.included_spend + included)
        locked[(p.membership_id, p.period_start)] = counters

        if p.period_start not in contexts:
            period = period_containing(p.occurred_at, organization.billing_timezone)
            contexts[p.period_start] = org_context_load(
                organization=organization, membership_ids=list(memberships), now=now, period=period
            )
        context = contexts[p.period_start]
        org_running[p.period_start] += cost - included
        org_before = context.org
        context.org = Counters(context.org.spend + cost, context.org.included_spend + included)
        decision = admission_decide(
            context=context, membership=membership, tier=tier, product=None, member=counters, now=now,
            with_request_hint=False,
        )
        if organization.plan_kind == PlanKind.TEAM and cost > included:
            context.settings.prepaid_balance -= cost - included
        if context.notice_thresholds is None:
            context.notice_thresholds = notification_thresholds(organization=organization)
        if spend_thresholds_newly_reached(
            thresholds=context.notice_thresholds, caps=context.caps, membership_id=p.membership_id, tier=tier,
            seat_based=organization.is_seat_based, before=before, after=counters, org_before=org_before,
            org_after=context.org,
        ):
            notify_members.add(p.membership_id)
            followups_due = True
        settings_now = context.settings
        if (organization.plan_kind == PlanKind.TEAM and settings_now.auto_reload_enabled
                and settings_now.reload_threshold is not None
                and settings_now.prepaid_balance <= settings_now.reload_threshold):
            followups_due = True

        event = NewUsageEvent(
            organization=organization,
            membership_id=p.membership_id,
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
            cost=cost,
            included_cost=included,
            funding=funding,
            occurred_at=p.occurred_at,
            received_at=now,
            period_start=p.period_start,
            member_month_to_date=counters.spend,
            blocked_after=not decision.allowed,
        )
        p.outcome = UsageOutcome("created", event)
        seen_in_batch[key] = p
        new_events.append(event)
        new_pending.append(p)

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
        transaction.on_commit(lambda: _enqueue_followups(organization.pk, member_ids))


def _enqueue_followups(organization_id: int, membership_ids: list[int]) -> None:
    """After commit: auto-reloads and notifications. A broker outage must not fail a request that is already
    recorded; the periodic sweep finds whatever was due and not done."""
    from .tasks import usage_followups

    try:
        usage_followups.delay(organization_id, membership_ids)
    except Exception:  # broker down: the sweep catches up
        logger.warning("could not enqueue usage follow-ups for organization %s", organization_id, exc_info=True)
