from decimal import Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.common.money import money_format
from apps.organizations.models import Role

register = template.Library()


ACTION_LABELS = {
    "cap.organization": gettext_lazy("Organization limit"),
    "cap.seat_tier": gettext_lazy("Seat-tier limit"),
    "cap.member": gettext_lazy("Member limit"),
    "cap.member.delete": gettext_lazy("Member limit removed"),
    "seat.change": gettext_lazy("Seat tier"),
    "member.invite": gettext_lazy("Invitation"),
    "member.invite.revoke": gettext_lazy("Invitation withdrawn"),
    "member.join": gettext_lazy("Joined"),
    "member.role": gettext_lazy("Role"),
    "member.remove": gettext_lazy("Member removed"),
    "member.primary_owner": gettext_lazy("Primary owner transferred"),
    "organization.language": gettext_lazy("Language settings"),
}
TIER_LABELS = {"standard": "Standard", "premium": "Premium", "chat": "Chat", "chat_code": "Chat + Claude Code"}
ROLE_LABELS = {role.value: role.label for role in Role}


@register.filter
def audit_action(action: str) -> str:
    return ACTION_LABELS.get(action, action.replace(".", " ").replace("_", " ").capitalize())


@register.filter
def audit_target(target: str) -> str:
    if target == "organization":
        return _("Organization")
    if target.startswith("tier:"):
        code = target.removeprefix("tier:")
        return _("%(tier)s seats") % {"tier": TIER_LABELS.get(code, code)}
    return target.removeprefix("member:")


@register.filter
def audit_value(value, action: str = "") -> str:
    """An audit row's old or new value in words: money for caps (None is Unlimited), tier and role names."""
    if action.startswith("cap."):
        if value is None:
            return _("Unlimited")
        try:
            return money_format(Decimal(str(value)))
        except InvalidOperation:  # not an amount: show it as stored
            return str(value)
    if action == "organization.language" and isinstance(value, dict):
        names = dict(settings.LANGUAGES)
        labels = {"default_language": _("Default language"), "invoice_language": _("Invoice language")}
        return ", ".join(f"{labels.get(k, k)}: {names.get(v, v)}" for k, v in value.items())
    if value is None:
        return _("No seat") if action == "seat.change" else _("none")
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {audit_value(v)}" for k, v in value.items() if v is not None)
    text = str(value)
    return TIER_LABELS.get(text) or ROLE_LABELS.get(text) or text


@register.filter
def audit_shows_old(entry) -> bool:
    """Caps and seats always show "old → new" (None is Unlimited / No seat); other events only when there was
    an old value (an invitation or a join has none)."""
    return entry.old_value is not None or entry.action.startswith(("cap.", "seat."))
