"""Property tests (hypothesis) for the pricing rule, on in-memory price rows (no database needed)."""

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from apps.usage.models import ModelPrice
from apps.usage.pricing import LONG_CONTEXT_THRESHOLD, Tokens, quote

rates = st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False, allow_infinity=False)
counts = st.integers(min_value=0, max_value=5_000_000)


@st.composite
def prices(draw, long_context=None):
    has_long = draw(st.booleans()) if long_context is None else long_context
    standard = [draw(rates) for _ in range(4)]
    long_rates = [draw(rates) for _ in range(4)] if has_long else [None] * 4
    return ModelPrice(input=standard[0], output=standard[1], cache_write=standard[2], cache_read=standard[3],
                      long_input=long_rates[0], long_output=long_rates[1], long_cache_write=long_rates[2],
                      long_cache_read=long_rates[3])


token_sets = st.builds(Tokens, input=counts, output=counts, cache_write=counts, cache_read=counts)
short_token_sets = st.builds(
    Tokens, input=st.integers(0, 60_000), output=counts, cache_write=st.integers(0, 60_000),
    cache_read=st.integers(0, 60_000),
)


def exact(price: ModelPrice, tokens: Tokens) -> Fraction:
    long_context = tokens.prompt > LONG_CONTEXT_THRESHOLD and price.long_input is not None
    r = ((price.long_input, price.long_output, price.long_cache_write, price.long_cache_read) if long_context
         else (price.input, price.output, price.cache_write, price.cache_read))
    total = sum(Fraction(n) * Fraction(rate) for n, rate in zip(
        (tokens.input, tokens.output, tokens.cache_write, tokens.cache_read), r, strict=True))
    return total / 1_000_000


@given(prices(), token_sets)
def test_cost_is_exact_to_the_last_digit(price, tokens):
    result = quote(price, tokens).cost
    assert isinstance(result, Decimal)
    assert Fraction(result) == exact(price, tokens)
    # Rates have four places and a million has six: no cost needs more than ten, the ledger's precision.
    assert result == result.quantize(Decimal("1e-10"))


@given(prices(), token_sets)
def test_cost_is_never_negative(price, tokens):
    assert quote(price, tokens).cost >= 0


@given(prices(), short_token_sets, short_token_sets)
def test_cost_is_additive_within_one_rate_regime(price, a, b):
    both = Tokens(a.input + b.input, a.output + b.output, a.cache_write + b.cache_write, a.cache_read + b.cache_read)
    # Each prompt is at most 180,000 tokens, and the combined one too only if it stays standard.
    if both.prompt <= LONG_CONTEXT_THRESHOLD:
        assert quote(price, both).cost == quote(price, a).cost + quote(price, b).cost


@given(prices(), short_token_sets, st.integers(min_value=0, max_value=1000))
def test_cost_is_linear_in_tokens_within_one_rate_regime(price, tokens, k):
    scaled = Tokens(tokens.input * k, tokens.output * k, tokens.cache_write * k, tokens.cache_read * k)
    if scaled.prompt <= LONG_CONTEXT_THRESHOLD or tokens.prompt > LONG_CONTEXT_THRESHOLD:
        assert quote(price, scaled).cost == k * quote(price, tokens).cost


@given(prices(long_context=True), token_sets)
def test_long_context_rates_apply_to_all_tokens_exactly_above_200000(price, tokens):
    q = quote(price, tokens)
    if tokens.prompt > LONG_CONTEXT_THRESHOLD:
        assert q.long_context
        assert (q.input, q.output, q.cache_write, q.cache_read) == (
            price.long_input, price.long_output, price.long_cache_write, price.long_cache_read)
    else:
        assert not q.long_context
        assert (q.input, q.output, q.cache_write, q.cache_read) == (
            price.input, price.output, price.cache_write, price.cache_read)


@given(prices(long_context=False), token_sets)
def test_models_without_long_context_rates_always_use_standard_rates(price, tokens):
    q = quote(price, tokens)
    assert not q.long_context
    assert q.input == price.input
