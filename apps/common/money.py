"""Money arithmetic rules shared by every app.

Events and counters keep full precision (MONEY_PLACES decimal places). Only invoice lines and charges made
to a card are rounded, to cents, with ROUND_HALF_UP (the rule stated on every invoice).
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Precision kept on events and counters: 1e-10 dollars, well beyond the 1e-8 the ledger promises.
MONEY_MAX_DIGITS = 24
MONEY_PLACES = 10
CENT = Decimal("0.01")
ZERO = Decimal("0")
INVOICE_ROUNDING = ROUND_HALF_UP
# The largest cap or purchase an owner may enter: far above any real monthly budget, far below overflow.
MAX_CAP_AMOUNT = Decimal("10000000.00")


def round_to_cents(amount: Decimal) -> Decimal:
    """Round an amount to cents, half up: the one rounding rule of every invoice line and charge."""
    return amount.quantize(CENT, rounding=INVOICE_ROUNDING)


def parse_amount(raw: object) -> Decimal:
    """Parse a user-entered dollar amount (str/int/Decimal; never float). Raises ValueError with a message."""
    if isinstance(raw, float | bool):
        raise ValueError("must be a decimal string, not a floating-point number")
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ValueError("must be a number") from None
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


def format_usd(amount: Decimal | None) -> str:
    if amount is None:
        return "Unlimited"
    cents = round_to_cents(amount)
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents):,.2f}"


def decimal_str(amount: Decimal) -> str:
    """An exact decimal without trailing zeros or exponent ("0.0045", "12", "0"), the same whether the value
    came from arithmetic or from the database."""
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "") else text
