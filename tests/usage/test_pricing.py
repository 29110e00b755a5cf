"""Pricing against the seeded price table, with hand-computed expectations (US dollars per million tokens)."""

from decimal import Decimal

import pytest
from django.utils import timezone

from apps.usage.models import AIModel, ModelPrice
from apps.usage.pricing import Tokens, UnknownModel, price_lookup, quote
from tests.conftest import ApiClient
from tests.factories import OrganizationFactory, api_key, member

pytestmark = pytest.mark.django_db

# 1,000 input + 500 output + 2,000 cache write + 10,000 cache read tokens, priced by hand:
#   opus-4-5:   1000×5    + 500×25 + 2000×6.25  + 10000×0.50 = 35,000   → $0.035
#   haiku-4-5:  1000×1    + 500×5  + 2000×1.25  + 10000×0.10 = 7,000    → $0.007
#   sonnet-4-5: 1000×3    + 500×15 + 2000×3.75  + 10000×0.30 = 21,000   → $0.021
#   opus-4-1:   1000×15   + 500×75 + 2000×18.75 + 10000×1.50 = 105,000  → $0.105
#   haiku-3-5:  1000×0.80 + 500×4  + 2000×1     + 10000×0.08 = 5,600    → $0.0056
MIXED = Tokens(input=1000, output=500, cache_write=2000, cache_read=10000)
EVERY_MODEL = [
    ("claude-opus-4-5-20251101", "claude-opus-4-5", Decimal("0.035")),
    ("claude-haiku-4-5-20251001", "claude-haiku-4-5", Decimal("0.007")),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5", Decimal("0.021")),
    ("claude-opus-4-1-20250805", "claude-opus-4-1", Decimal("0.105")),
    ("claude-sonnet-4-20250514", "claude-sonnet-4-0", Decimal("0.021")),
    ("claude-opus-4-20250514", "claude-opus-4-0", Decimal("0.105")),
    ("claude-3-5-haiku-20241022", "claude-3-5-haiku-latest", Decimal("0.0056")),
]


def cost(name: str, tokens: Tokens) -> Decimal:
    _, price = price_lookup(model_name=name, at=timezone.now())
    return quote(price, tokens).cost


@pytest.mark.parametrize(("api_id", "alias", "expected"), EVERY_MODEL)
def test_every_model_is_priced_by_api_id_and_alias(api_id, alias, expected):
    assert cost(api_id, MIXED) == expected
    assert cost(alias, MIXED) == expected


def test_price_table_holds_exactly_the_seven_models_of_the_issue():
    assert set(AIModel.objects.values_list("api_id", flat=True)) == {api_id for api_id, _, _ in EVERY_MODEL}


@pytest.mark.parametrize(("api_id", "alias", "expected"), EVERY_MODEL)
def test_usage_api_charges_every_model_at_its_rate(api_id, alias, expected):
    org = OrganizationFactory()
    member(org, email="dev@example.com")
    client = ApiClient(api_key(org))
    for n, name in enumerate((api_id, alias)):
        response = client.post("/usage", {
            "idempotency_key": f"k{n}", "member": "dev@example.com", "product": "chat", "model": name,
            "usage": {"input_tokens": 1000, "output_tokens": 500, "cache_creation_input_tokens": 2000,
                      "cache_read_input_tokens": 10000, "service_tier": "standard"},
        })
        assert response.status_code == 201, response.content
        assert Decimal(response.json()["cost"]) == expected


def test_prompt_of_exactly_200000_tokens_is_standard():
    # 200,000×3 + 1,000×15 = 615,000 → $0.615
    assert cost("claude-sonnet-4-5", Tokens(input=200_000, output=1_000)) == Decimal("0.615")


def test_prompt_of_200001_tokens_is_all_long_context():
    # 200,001×6 + 1,000×22.50 = 1,222,506 → $1.222506
    assert cost("claude-sonnet-4-5", Tokens(input=200_001, output=1_000)) == Decimal("1.222506")
    assert cost("claude-sonnet-4-0", Tokens(input=200_001, output=1_000)) == Decimal("1.222506")


def test_long_context_counts_cache_tokens_in_the_prompt():
    # 100,000 + 50,000 + 50,000 = 200,000: standard. 100,000×3 + 50,000×3.75 + 50,000×0.30 + 2,000×15
    # = 300,000 + 187,500 + 15,000 + 30,000 = 532,500 → $0.5325
    at_boundary = Tokens(input=100_000, output=2_000, cache_write=50_000, cache_read=50_000)
    assert cost("claude-sonnet-4-5", at_boundary) == Decimal("0.5325")
    # One more cache-read token: 100,000×6 + 50,000×7.50 + 50,001×0.60 + 2,000×22.50
    # = 600,000 + 375,000 + 30,000.6 + 45,000 = 1,050,000.6 → $1.0500006
    over = Tokens(input=100_000, output=2_000, cache_write=50_000, cache_read=50_001)
    assert cost("claude-sonnet-4-5", over) == Decimal("1.0500006")


def test_model_without_long_context_rates_stays_at_standard_rates_over_200000():
    # Opus 4.5 has no long-context rates: 200,001×5 = 1,000,005 → $1.000005
    assert cost("claude-opus-4-5", Tokens(input=200_001, output=0)) == Decimal("1.000005")


def test_cache_only_prompt_is_priced_at_cache_rates():
    # Haiku 4.5: 10,000×1.25 + 150,000×0.10 = 12,500 + 15,000 = 27,500 → $0.0275
    assert cost("claude-haiku-4-5", Tokens(input=0, output=0, cache_write=10_000, cache_read=150_000)) == Decimal(
        "0.0275"
    )
    # Sonnet 4.5, 250,000 cache-read tokens only: a long-context prompt, 250,000×0.60 = 150,000 → $0.15
    assert cost("claude-sonnet-4-5", Tokens(input=0, output=0, cache_read=250_000)) == Decimal("0.15")


def test_smallest_possible_charge_is_kept_exactly():
    # One cache-read token of Claude Haiku 3.5: 0.08 / 1,000,000 = $0.00000008
    assert cost("claude-3-5-haiku-latest", Tokens(input=0, output=0, cache_read=1)) == Decimal("0.00000008")


def test_unknown_model_is_rejected_not_priced_at_zero():
    with pytest.raises(UnknownModel):
        price_lookup(model_name="claude-unknown-9", at=timezone.now())


def test_new_price_applies_from_its_effective_date_only():
    model = AIModel.objects.get(alias="claude-haiku-4-5")
    old = ModelPrice.objects.get(model=model)
    change_at = timezone.now() - timezone.timedelta(days=1)
    ModelPrice.objects.create(model=model, effective_from=change_at, input=2, output=10, cache_write="2.5",
                              cache_read="0.2")
    from apps.usage.pricing import price_table

    price_table.invalidate()
    before = price_lookup(model_name="claude-haiku-4-5", at=change_at - timezone.timedelta(seconds=1))[1]
    after = price_lookup(model_name="claude-haiku-4-5", at=change_at)[1]
    assert before.pk == old.pk
    assert quote(after, Tokens(input=1_000_000, output=0)).cost == Decimal("2")
