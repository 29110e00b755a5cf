from babel import Locale
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.common.money import babel_locale

from .tax import tax_id_normalize


def country_choices() -> list[tuple[str, str]]:
    """Every ISO 3166 country (two letters), named in the reader's language (CLDR via Babel), by name."""
    names = Locale.parse(babel_locale()).territories
    countries = [(code, name) for code, name in names.items() if len(code) == 2 and code.isalpha()
                 and code not in ("EU", "EZ", "UN", "QO", "XA", "XB", "ZZ")]
    return [("", "—"), *sorted(countries, key=lambda item: item[1].casefold())]


class BillingDetailsForm(forms.Form):
    legal_name = forms.CharField(label=_("Legal name"), max_length=200, required=False)
    address = forms.CharField(label=_("Address"), max_length=1000, required=False,
                              widget=forms.Textarea(attrs={"rows": 4}))
    country = forms.ChoiceField(label=_("Billing country"), required=False, choices=country_choices,
                                help_text=_("Decides the tax on your invoices."))
    tax_id = forms.CharField(label=_("Tax ID"), max_length=50, required=False,
                             help_text=_("VAT number, EIN or similar, printed on the invoice and checked for "
                                         "the billing country. EU businesses in another member state than the "
                                         "seller with a valid VAT ID are billed under the reverse charge."))
    po_number = forms.CharField(label=_("Purchase order number"), max_length=100, required=False,
                                help_text=_("Printed on each invoice, if your accounts-payable desk needs one."))
    billing_email = forms.EmailField(label=_("Billing email"), required=False,
                                     help_text=_("Receives every invoice email; it cannot be switched off."))

    def clean(self):
        data = super().clean()
        if "tax_id" in data:
            try:
                data["tax_id"] = tax_id_normalize(country=data.get("country", ""), tax_id=data["tax_id"])
            except ValidationError as error:
                self.add_error("tax_id", error)
        return data
