from decimal import Decimal, InvalidOperation

from django import template

from apps.common.money import money_format

register = template.Library()


ACTION_LABELS = {
    "cap.organization": "Organization limit",
    "cap.seat_tier": "Seat-tier limit",
    "cap.member": "Member limit",
    "cap.member.delete": "Member limit removed",
    "seat.change": "Seat tier",
    "member.invite": "Invitation",
    "member.invite.revoke": "Invitation withdrawn",
    "member.join": "Joined",
    "member.role": "Role",
    "member.remove": "Member removed",
    "member.primary_owner": "Primary owner transferred",
}
TIER_LABELS = {"standard": "Standard", "premium": "Premium", "chat": "Chat", "chat_code": "Chat + Claude Code"}
ROLE_LABELS = {"primary_owner": "Primary owner", "owner": "Owner", "admin": "Admin", "member": "Member"}


@register.filter
def audit_action(action: str) -> str:
    return ACTION_LABELS.get(action, action.replace(".", " ").replace("_", " ").capitalize())


@register.filter
def audit_target(target: str) -> str:
    if target == "organization":
        return "Organization"
    if target.startswith("tier:"):
        code = target.removeprefix("tier:")
        return f"{TIER_LABELS.get(code, code)} seats"
    return target.removeprefix("member:")


@register.filter
def audit_value(value, action: str = "") -> str:
    """An audit row's old or new value in words: money for caps (None is Unlimited), tier and role names."""
    if action.startswith("cap."):
        if value is None:
            return "Unlimited"
        try:
            return money_format(Decimal(str(value)))
        except InvalidOperation:  # not an amount: show it as stored
            return str(value)
    if value is None:
        return "No seat" if action == "seat.change" else "none"
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {audit_value(v)}" for k, v in value.items() if v is not None)
    text = str(value)
    return TIER_LABELS.get(text) or ROLE_LABELS.get(text) or text


@register.filter
def audit_shows_old(entry) -> bool:
    """Caps and seats always show "old → new" (None is Unlimited / No seat); other events only when there was
    an old value (an invitation or a join has none)."""
    return entry.old_value is not None or entry.action.startswith(("cap.", "seat."))
