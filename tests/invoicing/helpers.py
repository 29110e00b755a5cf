"""Data builders for invoicing tests: usage events written straight to the ledger (the invoice reads only
events, so pricing and admission are not needed here), and dates in an organization's time zone."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from decimal import Decimal
from zoneinfo import ZoneInfo

from apps.usage.models import AIModel, Funding, UsageEvent

_keys = itertools.count()


def at(tz: str, *args) -> dt.datetime:
    """An aware datetime from local wall-clock fields in `tz`."""
    return dt.datetime(*args, tzinfo=ZoneInfo(tz))


def model(alias: str = "claude-sonnet-4-5") -> AIModel:
    return AIModel.objects.get(alias=alias)


def event(membership, *, occurred_at: dt.datetime, period_start: dt.date, cost: Decimal,
          included: Decimal = Decimal(0), received_at: dt.datetime | None = None, model_alias="claude-sonnet-4-5",
          product="chat", tokens=(1000, 200, 0, 0)) -> UsageEvent:
    ai_model = model(model_alias)
    price = ai_model.prices.order_by("effective_from").first()
    key = next(_keys)
    return UsageEvent(
        organization_id=membership.organization_id, membership=membership, idempotency_key=f"test-{key}",
        fingerprint="0" * 64, product=product, model=ai_model, price=price,
        input_tokens=tokens[0], output_tokens=tokens[1], cache_write_tokens=tokens[2], cache_read_tokens=tokens[3],
        long_context=False, rate_input=price.input, rate_output=price.output, rate_cache_write=price.cache_write,
        rate_cache_read=price.cache_read, cost=cost, included_cost=included,
        funding=Funding.POOLED if not included else Funding.INCLUDED,
        occurred_at=occurred_at, received_at=received_at or occurred_at, period_start=period_start,
        member_month_to_date=Decimal(0), blocked_after=False,
    )


def random_cost(rng: random.Random) -> Decimal:
    """A cost with ten decimal places, like a priced event (up to ~$2)."""
    return Decimal(rng.randrange(1, 2 * 10**10)).scaleb(-10)


def random_events(memberships, *, period_start: dt.date, starts_at: dt.datetime, count: int, rng: random.Random,
                  aliases=("claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5", "claude-opus-4-1"),
                  products=("chat", "claude_code", "cowork"), included_share: bool = False) -> list[UsageEvent]:
    events = []
    for _ in range(count):
        cost = random_cost(rng)
        included = (cost * rng.choice([0, 0, 1, Decimal("0.5")])).quantize(Decimal("1e-10")) if included_share else 0
        moment = starts_at + dt.timedelta(seconds=rng.randrange(0, 27 * 86400))
        events.append(event(
            rng.choice(memberships), occurred_at=moment, period_start=period_start, cost=cost,
            included=Decimal(included), model_alias=rng.choice(aliases), product=rng.choice(products),
            tokens=(rng.randrange(0, 300_000), rng.randrange(0, 20_000), rng.randrange(0, 5_000),
                    rng.randrange(0, 50_000)),
        ))
    return UsageEvent.objects.bulk_create(events, batch_size=1000)
