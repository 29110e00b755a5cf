"""Pricing: what a request costs at API rates.

Prices are data (ModelPrice rows, per million tokens, each from an effective date). When a request's prompt
(input + cache write + cache read tokens) is more than LONG_CONTEXT_THRESHOLD tokens, all of its tokens are
charged at the model's long-context rates; exactly the threshold is standard. Costs are exact Decimals: rates
have four decimal places, so a cost has at most ten.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

from .models import AIModel, ModelPrice

LONG_CONTEXT_THRESHOLD = 200_000
PER_MILLION = Decimal(1_000_000)
_CACHE_SECONDS = 30.0


class UnknownModel(Exception):
    def __init__(self, name: str):
        super().__init__(f"unknown model {name!r}")
        self.name = name


class NoPriceForDate(Exception):
    def __init__(self, name: str, at: dt.datetime):
        super().__init__(f"model {name!r} has no price in effect at {at.isoformat()}")


@dataclass(frozen=True)
class Tokens:
    input: int
    output: int
    cache_write: int = 0
    cache_read: int = 0

    @property
    def prompt(self) -> int:
        return self.input + self.cache_write + self.cache_read


@dataclass(frozen=True)
class Quote:
    cost: Decimal
    long_context: bool
    input: Decimal
    output: Decimal
    cache_write: Decimal
    cache_read: Decimal


def quote(price: ModelPrice, tokens: Tokens) -> Quote:
    """The exact cost of one request at a price row, and the rates used."""
    long_context = tokens.prompt > LONG_CONTEXT_THRESHOLD and price.long_input is not None
    if long_context:
        rates = (price.long_input, price.long_output, price.long_cache_write, price.long_cache_read)
    else:
        rates = (price.input, price.output, price.cache_write, price.cache_read)
    r_in, r_out, r_cw, r_cr = (Decimal(r) for r in rates)
    total = (
        tokens.input * r_in + tokens.output * r_out + tokens.cache_write * r_cw + tokens.cache_read * r_cr
    )
    return Quote(total / PER_MILLION, long_context, r_in, r_out, r_cw, r_cr)


class _PriceTable:
    """Process-local copy of the (small) price table, refreshed every 30 seconds and on admin edits, so
    the hot path prices a request without a query."""

    def __init__(self):
        self._lock = threading.Lock()
        self._loaded_at = 0.0
        self._models: dict[str, AIModel] = {}
        self._prices: dict[int, list[ModelPrice]] = {}

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = 0.0

    def _refresh(self) -> None:
        models = list(AIModel.objects.all())
        prices: dict[int, list[ModelPrice]] = {}
        for price in ModelPrice.objects.order_by("model_id", "-effective_from"):
            prices.setdefault(price.model_id, []).append(price)
        by_name = {}
        for m in models:
            by_name[m.api_id] = m
            by_name[m.alias] = m
        self._models, self._prices, self._loaded_at = by_name, prices, time.monotonic()

    def lookup(self, name: str, at: dt.datetime) -> tuple[AIModel, ModelPrice]:
        with self._lock:
            if time.monotonic() - self._loaded_at > _CACHE_SECONDS:
                self._refresh()
            model = self._models.get(name)
            if model is None:
                raise UnknownModel(name)
            for price in self._prices.get(model.pk, []):
                if price.effective_from <= at:
                    return model, price
            raise NoPriceForDate(name, at)

    def known_names(self) -> list[str]:
        with self._lock:
            if time.monotonic() - self._loaded_at > _CACHE_SECONDS:
                self._refresh()
            return sorted(self._models)


price_table = _PriceTable()


def price_lookup(*, model_name: str, at: dt.datetime) -> tuple[AIModel, ModelPrice]:
    """The model (by API id or alias) and the price row in effect at `at`. Raises UnknownModel."""
    return price_table.lookup(model_name, at)


@dataclass(frozen=True)
class PriceSchedule:
    """One model's rates as an owner reads them: the price in effect now and any announced later ones."""

    model: AIModel
    current: ModelPrice | None
    upcoming: list[ModelPrice]


def price_schedules(*, at: dt.datetime) -> list[PriceSchedule]:
    """Every model's price in effect at `at` and the ones taking effect after it, models in name order. Reads
    the table itself (two queries), not the process cache, so a page shows a price an admin just saved."""
    prices: dict[int, list[ModelPrice]] = {}
    for price in ModelPrice.objects.order_by("model_id", "effective_from"):
        prices.setdefault(price.model_id, []).append(price)
    schedules = []
    for model in AIModel.objects.order_by("display_name"):
        rows = prices.get(model.pk, [])
        past = [p for p in rows if p.effective_from <= at]
        schedules.append(PriceSchedule(model, past[-1] if past else None, [p for p in rows if p.effective_from > at]))
    return schedules
