"""An Enterprise organization with a few hundred events recorded through the machine API's service over ten
days (several models, products, long-context prompts, a removed member), and direct sums over its stored
events to hold the Usage and Cost Analytics API to."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

from django.utils import timezone

from apps.admin_api.models import AdminScope
from apps.organizations.models import Membership, PlanKind, Role
from apps.spending.services import UsageInput, usage_record_batch
from apps.usage.models import UsageEvent
from apps.usage.pricing import PER_MILLION, Tokens
from tests.factories import OrganizationFactory, member

from .conftest import admin_key

ANALYTICS = [AdminScope.READ_ANALYTICS]
MODELS = ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-5")
PRODUCTS = ("chat", "claude_code", "cowork")
TOKEN_KINDS = {"uncached_input_tokens": ("input_tokens", "rate_input"),
               "output_tokens": ("output_tokens", "rate_output"),
               "cache_read_input_tokens": ("cache_read_tokens", "rate_cache_read"),
               "cache_creation.ephemeral_5m_input_tokens": ("cache_write_tokens", "rate_cache_write")}


def floor_hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


class UsageHistory:
    """Six members (one later removed) and 240 events between 10 days and 2 hours ago."""

    def __init__(self, *, events: int = 240, seed: int = 16, billing_timezone: str = "UTC"):
        rng = random.Random(seed)
        self.now = timezone.now()
        self.org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, billing_timezone=billing_timezone)
        self.owner = member(self.org, role=Role.PRIMARY_OWNER, tier_code="chat_code")
        self.members = [member(self.org, tier_code="chat_code") for _ in range(5)]
        everyone = [self.owner, *self.members]
        items = []
        for n in range(events):
            who = rng.choice(everyone)
            model = rng.choice(MODELS)
            long_prompt = model == "claude-sonnet-4-5" and rng.random() < 0.2
            tokens = Tokens(input=rng.randint(210_000, 400_000) if long_prompt else rng.randint(0, 50_000),
                            output=rng.randint(0, 8_000), cache_write=rng.choice((0, rng.randint(1, 9_000))),
                            cache_read=rng.choice((0, rng.randint(1, 90_000))))
            occurred_at = self.now - dt.timedelta(hours=2) - dt.timedelta(seconds=rng.randint(0, 10 * 86_400))
            items.append(UsageInput(idempotency_key=f"ev-{n}", member=who.user.email, product=rng.choice(PRODUCTS),
                                    model=model, tokens=tokens, occurred_at=occurred_at))
        for start in range(0, len(items), 100):
            outcomes = usage_record_batch(organization=self.org, items=items[start:start + 100], now=self.now)
            assert {o.status for o in outcomes} == {"created"}, outcomes
        self.removed = self.members[-1]
        Membership.objects.filter(pk=self.removed.pk).update(removed_at=self.now)
        self.key = admin_key(self.org, scopes=ANALYTICS, name="analytics")
        self.start = floor_hour(self.now - dt.timedelta(days=10, hours=3))
        self.end = floor_hour(self.now)

    def events(self, *, start=None, end=None) -> list[UsageEvent]:
        start, end = start or self.start, end or self.end
        return list(UsageEvent.objects.filter(organization=self.org, occurred_at__gte=start, occurred_at__lt=end)
                    .select_related("membership__user", "model"))


def bucket_of(moment: dt.datetime, width: str | None):
    if width is None:
        return None
    hour = floor_hour(moment)
    return hour if width == "1h" else hour.replace(hour=0)


def event_key(event: UsageEvent, dims: list[str], width: str | None) -> tuple:
    values = {"actor": event.membership.user.public_id, "model": event.model.alias, "product": event.product,
              "context_window": "200k-1M" if event.long_context else "0-200k"}
    return (bucket_of(event.occurred_at, width), *(values[d] for d in dims))


def expected_sums(events: list[UsageEvent], dims: list[str], width: str | None) -> dict:
    """Per group: cost in cents, each token kind's tokens and cost in cents, and requests: straight from the
    events, as a chargeback script would add them up."""
    sums = defaultdict(lambda: {"amount": Decimal(0), "requests": 0, **dict.fromkeys(TOKEN_KINDS, 0),
                                **{f"{k}:cost": Decimal(0) for k in TOKEN_KINDS}})
    for event in events:
        entry = sums[event_key(event, dims, width)]
        entry["amount"] += event.cost * 100
        entry["requests"] += 1
        for kind, (tokens, rate) in TOKEN_KINDS.items():
            entry[kind] += getattr(event, tokens)
            entry[f"{kind}:cost"] += getattr(event, tokens) * getattr(event, rate) / PER_MILLION * 100
    return dict(sums)


def group_key(row_start: dt.datetime, group, dims: list[str], width: str | None) -> tuple:
    values = {"actor": group.actor.user_id if getattr(group, "actor", None) else None,
              "model": group.model, "product": group.product, "context_window": group.context_window}
    return (bucket_of(row_start, width), *(values[d] for d in dims))
