"""Money arithmetic rules shared by every app, and THE rounding rule (docs/billing.md, "Rounding").

The rounding rule, written once (ROUNDING_RULE; `rounding_rule_text()` states it on every invoice, page and
export):

1. Amounts are exact. Events, counters, the prepaid ledger, dashboards, CSVs and APIs keep and show
   MONEY_PLACES decimal places (the ledger promises 8; nothing is rounded on the way).
2. A figure in cents is rounded ONCE, to the cent, half up (`round_to_cents`), from its exact amount: an
   invoice bills one rounded amount per member per kind (seat fee, included usage, extra or pooled usage);
   a card charge is rounded once.
3. A total in cents is the sum of its rounded parts (`rounded_total`), never a rounded sum: an invoice's total
   is the sum of its member lines, a dashboard's organization total the sum of its members, each rounded once.
   The exact total is shown beside it; they differ by less than half a cent per part.
4. Percentages are computed by `share` and rounded by `percent_whole` (whole percent, half up), whatever the page.
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


ROUNDING_RULE = "one-rounding-per-member-line, half-up, to the cent"


def round_to_cents(amount: Decimal) -> Decimal:
    """Round an exact amount to cents, half up: rule 2 of ROUNDING_RULE (each invoice line, each charge, each
    member's figure on a page). Call it once per amount, on the exact amount, never on a rounded one."""
    return amount.quantize(CENT, rounding=INVOICE_ROUNDING)


def rounded_total(amounts) -> Decimal:
    """Rule 3: a total in cents is the sum of its parts each rounded once (an invoice's member lines, a
    dashboard's members), so the total always equals the sum of the figures shown beside it."""
    return sum((round_to_cents(amount) for amount in amounts), ZERO)


def rounding_rule_text() -> str:
    """The rounding rule in one sentence, in the active language, for every invoice, page and export."""
    return gettext(
        "Rounding: amounts are kept exact; each member's amount of each kind is rounded once to the cent, half "
        "up, and totals are the sums of the rounded amounts shown."
    )


def share(part, whole) -> Decimal | None:
    """Rule 4: `part` as a 0–1 ratio of `whole` (exact); None when there is no whole (no limit, or zero)."""
    if part is None or whole is None:
        return None
    whole = Decimal(str(whole))
    if whole <= 0:
        return None
    return Decimal(str(part)) / whole


def percent_whole(ratio) -> int | None:
    """Rule 4: a 0–1 ratio as a whole percentage, rounded half up (0.0467 → 5). The one rounding of every
    percentage shown (meters step on it too); None for none."""
    if ratio is None:
        return None
    return int((Decimal(str(ratio)) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


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


RATE_DISPLAY_PLACES = 4


def rate4_format(amount: Decimal | str | None, currency: str = "USD", locale: str | None = None) -> str:
    """A rate or a usage figure shown for information on an invoice line (never billed as such): at most four
    decimals, at least two ("$9.9901", "$3.00", "$0.075"). Billed amounts use money_format; exact ones
    rate_format."""
    if amount is None:
        return ""
    value = Decimal(str(amount)).quantize(Decimal(1).scaleb(-RATE_DISPLAY_PLACES), rounding=ROUND_HALF_UP)
    if value == value.quantize(CENT):
        value = value.quantize(CENT)
    else:
        value = value.normalize()
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
    whole = Decimal(percent_whole(ratio))
    return format_percent(whole / 100, locale=babel_locale(locale) if locale else babel_locale())


def decimal_str(amount: Decimal) -> str:
    """An exact decimal without trailing zeros or exponent ("0.0045", "12", "0"), the same whether the value
    came from arithmetic or from the database."""
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "") else text
