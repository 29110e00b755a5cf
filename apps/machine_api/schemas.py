"""Request and response bodies of the machine API (they make its OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

ProductName = Literal["chat", "claude_code", "cowork"]
# A single request never carries anywhere near this many tokens; the bound keeps costs well inside Decimal
# precision and turns absurd input into a clear error.
MAX_TOKENS = 100_000_000


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL characters: refuse them as bad input (400 naming the field), not a 5xx.
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    return value


Text = Annotated[StrictStr, AfterValidator(_no_nul)]


# Request bodies are plain pydantic models, not ninja Schemas: a Schema reads its input through django-ninja's
# attribute getter (made for ORM objects), which cost about 50 µs per event of a batch (make bench).


class AdmissionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    member: Text = Field(min_length=3, max_length=254, description="The member's email address.")
    product: ProductName
    model: Text = Field(min_length=1, max_length=100, description="Model API id or alias.")


class AdmissionOut(Schema):
    allowed: bool
    reason: (
        Literal[
            "org_cap", "tier_cap", "member_cap", "included_usage_exhausted", "prepaid_balance_exhausted",
            "extra_usage_disabled", "no_seat", "product_not_in_seat",
        ]
        | None
    )
    funding: Literal["pooled", "included", "extra_usage"] | None
    period_ends_at: dt.datetime
    can_request_extra_usage: bool


class UsageTokensIn(BaseModel):
    """The `usage` object the Messages API returns, accepted as is (extra keys ignored)."""

    model_config = ConfigDict(extra="ignore")
    input_tokens: StrictInt = Field(ge=0, le=MAX_TOKENS)
    output_tokens: StrictInt = Field(ge=0, le=MAX_TOKENS)
    cache_creation_input_tokens: StrictInt | None = Field(default=0, ge=0, le=MAX_TOKENS)
    cache_read_input_tokens: StrictInt | None = Field(default=0, ge=0, le=MAX_TOKENS)

    @model_validator(mode="before")
    @classmethod
    def _must_be_an_object(cls, data):
        # A clearer message than pydantic's own for a list or a string.
        if not isinstance(data, dict):
            raise ValueError("must be an object with input_tokens and output_tokens")
        return data


class UsageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    idempotency_key: Text = Field(min_length=1, max_length=200)
    member: Text = Field(min_length=3, max_length=254)
    product: ProductName
    model: Text = Field(min_length=1, max_length=100)
    occurred_at: dt.datetime | None = None
    usage: UsageTokensIn


class UsageOut(Schema):
    cost: str = Field(description="Exact cost in dollars, as a decimal string.")
    currency: str
    funding: Literal["pooled", "included", "extra_usage"]
    member_month_to_date: str
    blocked: bool


class BatchIn(BaseModel):
    # Items are validated one by one in the view, so one malformed item (even a non-object) fails alone.
    events: list[Any] = Field(description="Up to 1,000 usage events, each shaped like POST /usage's body.")


class ErrorDetail(Schema):
    type: str
    field: str | None = None
    message: str


class ErrorOut(Schema):
    error: ErrorDetail


class BatchResultOut(Schema):
    index: int
    status: int
    result: UsageOut | None = None
    error: ErrorDetail | None = None


class BatchOut(Schema):
    results: list[BatchResultOut]
