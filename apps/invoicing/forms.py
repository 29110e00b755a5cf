from django import forms
from django.utils.translation import gettext_lazy as _


class BillingDetailsForm(forms.Form):
    legal_name = forms.CharField(label=_("Legal name"), max_length=200, required=False)
    address = forms.CharField(label=_("Address"), max_length=1000, required=False,
                              widget=forms.Textarea(attrs={"rows": 4}))
    tax_id = forms.CharField(label=_("Tax ID"), max_length=50, required=False,
                             help_text=_("VAT number, EIN or similar, printed on the invoice."))
    billing_email = forms.EmailField(label=_("Billing email"), required=False,
                                     help_text=_("Receives every invoice email; it cannot be switched off."))
