import re

from babel.numbers import get_decimal_symbol
from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.common.money import babel_locale, parse_amount
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
    """A monthly limit as typed: "set" parses the amount as written in the reader's locale (amount_normalize);
    "unlimited" ignores it. Which amounts are allowed ($0 included) is the cap service's rule
    (usage.services.cap_amount_validate), reported on this form's amount field by the view."""

    amount = forms.CharField(required=False, max_length=32)
    action = forms.ChoiceField(choices=[("set", _("Set limit")), ("unlimited", _("Set to unlimited"))], required=False)

    def clean(self):
        data = super().clean()
        if data.get("action") == "unlimited":
            data["amount"] = None
            return data
        data["action"] = "set"
        raw = amount_normalize(self.data.get("amount") or "")
        try:
            if not AMOUNT_RE.match(raw):
                raise ValueError(raw)
            data["amount"] = parse_amount(raw)
        except ValueError:
            self.add_error("amount", _("Enter an amount in dollars, e.g. 500 or 500.00."))
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


class AuditFilterForm(forms.Form):
    """The audit log's filters: a family of actions, an actor, and a span of the organization's local days."""

    kind = forms.ChoiceField(label=_("Kind"), required=False)
    actor = forms.ChoiceField(label=_("Who"), required=False)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, kinds: dict, actors: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", _("All kinds")), *kinds.items()]
        self.fields["actor"].choices = [("", _("Anyone")), *((a, a) for a in actors)]

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("The end date is before the start date."))
        return data


class LanguageSettingsForm(forms.Form):
    """The organization's default language and its invoice language (owners)."""

    default_language = forms.ChoiceField(
        choices=settings.LANGUAGES, label=_("Default language"),
        help_text=_("For people who chose no language and whose browser asks for none of these."))
    invoice_language = forms.ChoiceField(
        choices=settings.LANGUAGES, label=_("Invoice language"),
        help_text=_("The language of the invoice page and its PDF and CSV headers."))
