"""Money arithmetic rules shared by every app.

Events and counters keep full precision (MONEY_PLACES decimal places). Only invoice lines and charges made
to a card are rounded, to cents, with ROUND_HALF_UP (the rule stated on every invoice).
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency, format_decimal, format_percent
from django.utils import translation
from django.utils.translation import gettext

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


def babel_locale(language: str | None = None) -> str:
    """The Babel locale of a Django language code ("de" → "de", "en-us" → "en_US"); the active one by default."""
    return translation.to_locale(language or translation.get_language() or "en")


def money_format(amount: Decimal | int | str | None, currency: str = "USD", locale: str | None = None) -> str:
    """THE money formatter of every page, email, PDF and CSV header: `amount` rounded to cents half up, in the
    reader's locale as CLDR writes it ("$1,234.56" en, "1.234,56 $" de, "1 234,56 $US" fr, "1.234,56 USD" it).

    None means "no amount" and, in this product, always "no limit" (a cap, a limit, what remains of one): it
    reads "Unlimited" in the reader's language. Invoice amounts are never None.
    `locale` is a Babel locale or a Django language code; default the active language.
    """
    if amount is None:
        if locale is None:
            return gettext("Unlimited")
        with translation.override(translation.to_language(locale)):
            return gettext("Unlimited")
    cents = round_to_cents(Decimal(str(amount)) if not isinstance(amount, Decimal) else amount)
    return format_currency(cents, currency, locale=babel_locale(locale) if locale else babel_locale())


def rate_format(rate: Decimal | str, currency: str = "USD", locale: str | None = None) -> str:
    """A price per million tokens in the reader's locale, exact (never rounded to cents): at least two decimals,
    more when the rate has them ("$3.00", "$0.075", "0,075 $")."""
    value = Decimal(str(rate)).normalize()
    return format_currency(value, currency, locale=babel_locale(locale) if locale else babel_locale(),
                           currency_digits=False, decimal_quantization=False)


def number_format(value, locale: str | None = None, *, places: int | None = None) -> str:
    """A count or a decimal with the locale's separators ("12,345" en, "12.345" de, "12 345" fr)."""
    if value is None:
        return ""
    value = Decimal(str(value))
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return format_decimal(value, locale=babel_locale(locale) if locale else babel_locale())


def percent_format(ratio, locale: str | None = None) -> str:
    """A 0–1 ratio as a whole percentage, rounded half up, in the locale's way ("37%" en, "37 %" de); "—" for
    none."""
    if ratio is None:
        return "—"
    whole = (Decimal(str(ratio)) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return format_percent(whole / 100, locale=babel_locale(locale) if locale else babel_locale())


def decimal_str(amount: Decimal) -> str:
    """An exact decimal without trailing zeros or exponent ("0.0045", "12", "0"), the same whether the value
    came from arithmetic or from the database."""
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "") else text
