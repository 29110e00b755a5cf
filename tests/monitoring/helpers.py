"""Recording usage for monitoring tests through the real recording service, at exact prices: Claude Haiku 4.5
charges $1 per million input tokens, so N input tokens cost exactly N millionths of a dollar."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from apps.spending.services import UsageInput, usage_record_batch
from apps.usage.pricing import Tokens

_keys = itertools.count(1)
HAIKU = "claude-haiku-4-5"
SONNET = "claude-sonnet-4-5"


def record(organization, email: str, dollars: Decimal | str, *, now: dt.datetime, product: str = "chat",
           occurred_at: dt.datetime | None = None, model: str = HAIKU, output_tokens: int = 0):
    """Record one event costing exactly `dollars` (Haiku input tokens) and return its outcome."""
    tokens = int(Decimal(dollars) * 1_000_000)
    item = UsageInput(idempotency_key=f"mon-{next(_keys)}", member=email, product=product, model=model,
                      tokens=Tokens(input=tokens, output=output_tokens), occurred_at=occurred_at)
    [outcome] = usage_record_batch(organization=organization, items=[item], now=now)
    assert outcome.status == "created", (outcome.field, outcome.message)
    return outcome
