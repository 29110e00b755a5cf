import re
from decimal import Decimal

from babel.numbers import format_decimal, get_decimal_symbol
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.common.money import babel_locale, parse_amount
from apps.common.service_messages import translated_messages
from apps.organizations.models import Role
from apps.usage.services import cap_amount_validate

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
        try:
            data["amount"] = amount_parse(self.data.get("amount") or "")
        except ValueError:
            self.add_error("amount", _("Enter an amount in dollars, e.g. 500 or 500.00."))
        return data


def amount_parse(raw: str) -> Decimal:
    """An amount typed in the reader's locale as a Decimal; ValueError when it is not a plain amount."""
    text = amount_normalize(raw)
    if not AMOUNT_RE.match(text):
        raise ValueError(raw)
    return parse_amount(text)


class LimitsForm(forms.Form):
    """Several monthly limits on one page (the guided set-up's seat tiers or members): one optional text field
    per row, named by `rows` (field name → label, current limit). Empty means unlimited. Amounts are read in the
    reader's locale and checked by the cap service's one rule (usage.services.cap_amount_validate).
    `cleaned_data` holds only the limits that differ from their current value."""

    def __init__(self, *args, rows: dict[str, tuple[str, Decimal | None]], **kwargs):
        super().__init__(*args, **kwargs)
        self.current = {name: current for name, (_label, current) in rows.items()}
        for name, (label, current) in rows.items():
            self.fields[name] = forms.CharField(label=label, required=False, max_length=32)
            # Shown as the reader types it (75,50 in German), without grouping, so it reads back unchanged.
            self.initial.setdefault(name, "" if current is None else format_decimal(current, "0.00",
                                                                                  locale=babel_locale()))

    def clean(self):
        changed = {}
        for name, current in self.current.items():
            raw = (self.data.get(self.add_prefix(name)) or "").strip()
            try:
                amount = cap_amount_validate(amount_parse(raw)) if raw else None
            except ValueError:
                self.add_error(name, _("Enter an amount in dollars, e.g. 500 or 500.00."))
                continue
            except ValidationError as error:
                self.add_error(name, translated_messages(error))
                continue
            if amount != current:
                changed[name] = amount
        return changed


class ExtraUsageMembersForm(forms.Form):
    """"Which members": all of them, or only those ticked in the list (`member_ids`: the seated members shown)."""

    all_members = forms.ChoiceField(choices=[("all", _("All members")), ("chosen", _("Only members I choose"))],
                                    widget=forms.RadioSelect, label=_("Who can use extra usage"))
    enabled = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, member_ids: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enabled"].choices = [(str(pk), str(pk)) for pk in member_ids]


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
