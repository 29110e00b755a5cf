"""Extra-usage forms, shared by this app's modals and the console's guided set-up."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext, gettext_lazy

from apps.common.money import MAX_CAP_AMOUNT

from .models import ChargeStatus, PrepaidCharge


def _money_field(label: str, *, required: bool = True, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(label=label, required=required, min_value=Decimal("0"), max_value=MAX_CAP_AMOUNT,
                              max_digits=12, decimal_places=2, help_text=help_text)


class PurchaseForm(forms.Form):
    amount = _money_field(gettext_lazy("Amount to buy"))
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def charge_succeeded(self, charge: PrepaidCharge) -> bool:
        """True when the purchase went through; otherwise the form says why (the balance is unchanged)."""
        if charge.status == ChargeStatus.FAILED:
            self.add_error(None, gettext("Payment failed: %(error)s Your balance is unchanged.") % {
                "error": charge.error})
        elif charge.status == ChargeStatus.PENDING:
            self.add_error(None, gettext("The payment is still being processed; check the history shortly."))
        return charge.status == ChargeStatus.SUCCEEDED


class AutoReloadForm(forms.Form):
    enabled = forms.BooleanField(label=gettext_lazy("Reload automatically"), required=False)
    reload_threshold = _money_field(gettext_lazy("Reload when balance reaches"), required=False)
    reload_amount = _money_field(gettext_lazy("Reload amount"), required=False)
    monthly_reload_limit = _money_field(gettext_lazy("Monthly reload limit"), required=False,
                                        help_text=gettext_lazy("Leave empty for no limit."))


class ApproveForm(forms.Form):
    amount = _money_field(gettext_lazy("Individual monthly limit"), required=False)
    # The owner's choice to move a Standard seat to Premium (charged), and the plan they confirmed.
    upgrade = forms.BooleanField(required=False)
    confirm = forms.CharField(required=False, max_length=500)


class RequestForm(forms.Form):
    """What a member may add to "Request extra usage": a note for the reviewer, the monthly limit they need."""

    note = forms.CharField(label=gettext_lazy("Note for your admin (optional)"), required=False, max_length=500,
                           widget=forms.Textarea(attrs={"rows": 2}))
    amount = _money_field(gettext_lazy("Monthly limit you need (optional)"), required=False)
