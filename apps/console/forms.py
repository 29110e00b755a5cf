import re

from babel.numbers import get_decimal_symbol
from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.common.money import CENT, MAX_CAP_AMOUNT, babel_locale, money_format, parse_amount
from apps.organizations.models import Role

# Plain decimal notation only (no exponent, no NaN/Infinity); the sign is allowed so "-5" gets a clear message.
AMOUNT_RE = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")


def amount_normalize(raw: str) -> str:
    """An amount as typed in the reader's locale, in plain decimal notation: "1,234.56" (en) and "1.234,56" /
    "1 234,56" (de, fr, it, es) both give "1234.56". In a comma-decimal locale a lone dot followed by one or two
    digits ("500.00") is still read as the decimal point, so an amount is never silently multiplied by 100."""
    text = raw.strip()
    for symbol in ("US$", "$US", "USD", "$", "\u00a0", "\u202f", " "):
        text = text.replace(symbol, "")
    if get_decimal_symbol(babel_locale()) == ",":
        if "," in text:
            return text.replace(".", "").replace(",", ".")
        if text.count(".") == 1 and re.search(r"\.\d{1,2}$", text):
            return text
        return text.replace(".", "")
    return text.replace(",", "")


class CapForm(forms.Form):
    """A monthly limit: "set" needs a positive amount with at most two decimals up to MAX_CAP_AMOUNT;
    "unlimited" ignores the amount."""

    amount = forms.CharField(required=False, max_length=32)
    action = forms.ChoiceField(choices=[("set", _("Set limit")), ("unlimited", _("Set to unlimited"))], required=False)

    def clean(self):
        data = super().clean()
        if data.get("action") == "unlimited":
            data["amount"] = None
            return data
        data["action"] = "set"
        raw = amount_normalize(self.data.get("amount") or "")
        if not raw or not AMOUNT_RE.match(raw):
            self.add_error("amount", _("Enter an amount in dollars, e.g. 500 or 500.00."))
            return data
        try:
            amount = parse_amount(raw)
        except ValueError:
            self.add_error("amount", _("Enter an amount in dollars, e.g. 500 or 500.00."))
            return data
        if amount <= 0:
            self.add_error("amount", _("Enter a positive amount, or choose “Set to unlimited”."))
        elif amount.as_tuple().exponent < -2:
            self.add_error("amount", _("Use at most two decimal places (whole cents)."))
        elif amount > MAX_CAP_AMOUNT:
            self.add_error("amount", _("The limit cannot exceed %(maximum)s a month.") % {
                "maximum": money_format(MAX_CAP_AMOUNT)})
        else:
            data["amount"] = amount.quantize(CENT)  # exact: at most two places were accepted
        return data


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=[(role.value, role.label) for role in (Role.MEMBER, Role.ADMIN, Role.OWNER)])
    tier = forms.ChoiceField(label=_("Seat tier"))

    def __init__(self, *args, tiers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [(t.code, t.get_code_display()) for t in tiers]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class AcceptForm(forms.Form):
    name = forms.CharField(max_length=150)
    password = forms.CharField(widget=forms.PasswordInput, min_length=8)
    password_confirm = forms.CharField(widget=forms.PasswordInput, label=_("Confirm password"))

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_confirm"):
            self.add_error("password_confirm", _("The passwords do not match."))
        return data


class LanguageSettingsForm(forms.Form):
    """The organization's default language and its invoice language (owners)."""

    default_language = forms.ChoiceField(
        choices=settings.LANGUAGES, label=_("Default language"),
        help_text=_("For people who chose no language and whose browser asks for none of these."))
    invoice_language = forms.ChoiceField(
        choices=settings.LANGUAGES, label=_("Invoice language"),
        help_text=_("The language of the invoice page and its PDF and CSV headers."))
