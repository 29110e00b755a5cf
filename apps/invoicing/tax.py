"""Tax on invoices: a rate per billing country (TaxRate, edited by staff in Django admin), the EU reverse charge,
and tax IDs checked with python-stdnum. No tax engine.

The rule, applied once when an invoice is issued and stored on it (never recomputed):
- an EU business customer outside the seller's country with a valid VAT ID: reverse charge (0 %, stated on the
  invoice: the customer accounts for the VAT);
- otherwise the billing country's rate from the table (domestic and consumer sales, and countries outside the
  EU that have a row);
- a country without a row, or no billing country: no tax.
The tax is the billed subtotal × rate, rounded to cents once (apps.common.money.round_to_cents); each billed
line shows the rate it is taxed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum import get_cc_module
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError

from apps.common.money import ZERO, round_to_cents

from .models import TaxRate

# EU member states by ISO 3166 code (stdnum knows them by VAT prefix; Greece's prefix is EL).
EU_COUNTRIES = frozenset(code.upper() for code in eu_vat.MEMBER_STATES if code != "xi") | {"GR"}
_VAT_PREFIX = {"GR": "EL"}


@dataclass(frozen=True)
class TaxDecision:
    name: str
    rate: Decimal  # percent
    reverse_charge: bool


NO_TAX = TaxDecision(name="", rate=ZERO, reverse_charge=False)


def tax_id_normalize(*, country: str, tax_id: str) -> str:
    """The tax ID in its compact form, checked for the billing country with python-stdnum (format and check
    digits): an EU VAT number (the country prefix is added when missing), else the country's VAT or tax number
    when stdnum knows one. Raises ValidationError with a message for the form; blank stays blank."""
    tax_id = (tax_id or "").strip()
    if not tax_id:
        return ""
    country = (country or "").upper()
    if country in EU_COUNTRIES:
        prefix = _VAT_PREFIX.get(country, country)
        raw = "".join(ch for ch in tax_id if ch.isalnum()).upper()
        if not raw[:2].isalpha():
            raw = prefix + raw
        if raw[:2] != prefix:
            raise ValidationError(_("This VAT ID belongs to another country than the billing country."))
        try:
            return eu_vat.validate(raw)
        except StdnumError:
            raise ValidationError(_("This is not a valid tax ID for the billing country.")) from None
    modules = [get_cc_module(country.lower(), kind) for kind in ("vat", "ein", "tin", "gst", "abn", "bn")] \
        if len(country) == 2 else []
    modules = [(kind, module) for kind, module in zip(("vat", "ein", "tin", "gst", "abn", "bn"), modules,
                                                      strict=False) if module is not None]
    for kind, module in modules:  # the first of the country's numbers this one is
        try:
            compact = module.validate(tax_id)
        except StdnumError:
            continue
        if kind == "vat":  # a VAT number is printed with its country prefix ("GB980780684")
            return compact if compact[:2].isalpha() else country + compact
        return module.format(compact) if hasattr(module, "format") else compact
    if modules:
        raise ValidationError(_("This is not a valid tax ID for the billing country."))
    return tax_id


def vat_id_valid(*, country: str, tax_id: str) -> bool:
    """A VAT ID that passes the EU check for this EU country."""
    if (country or "").upper() not in EU_COUNTRIES or not tax_id:
        return False
    try:
        return tax_id_normalize(country=country, tax_id=tax_id) != ""
    except ValidationError:
        return False


def tax_decide(*, country: str, tax_id: str) -> TaxDecision:
    """The tax of an invoice billed to this country and tax ID, by the module's rule."""
    country = (country or "").upper()
    seller = settings.INVOICE_ISSUER["country"]
    if country in EU_COUNTRIES and country != seller and vat_id_valid(country=country, tax_id=tax_id):
        return TaxDecision(name="VAT", rate=ZERO, reverse_charge=True)
    row = TaxRate.objects.filter(country=country).first() if country else None
    if row is None:
        return NO_TAX
    return TaxDecision(name=row.name, rate=row.rate, reverse_charge=False)


def tax_amount(*, subtotal: Decimal, rate: Decimal) -> Decimal:
    """subtotal × rate %, rounded to cents once."""
    return round_to_cents(subtotal * rate / 100)
