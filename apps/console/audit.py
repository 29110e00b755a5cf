"""The audit trail as people read it: one sentence per entry, in the reader's language, money formatted.

Audit rows store what changed in a stable, machine-readable form (`action`, `target`, `old_value`,
`new_value`); this module is the one place that turns each kind into words. A kind without a sentence of its
own still reads as a sentence ("Changed <what>: <old> → <new>"), and tests/console/test_audit_sentences.py
fails when an audited action in apps/ has none.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.common.money import money_format
from apps.organizations.models import AuditEntry

TIER_NAMES = {"standard": gettext_lazy("Standard"), "premium": gettext_lazy("Premium"), "chat": "Chat",
              "chat_code": "Chat + Claude Code"}
ROLE_NAMES = {"primary_owner": gettext_lazy("Primary Owner"), "owner": gettext_lazy("Owner"),
              "admin": gettext_lazy("Admin"), "member": gettext_lazy("Member")}
SCOPE_NAMES = {"read:spend_limits": gettext_lazy("read spend limits"),
               "write:spend_limits": gettext_lazy("write spend limits"),
               "read:analytics": gettext_lazy("read usage and cost reports")}
# Filter choices of the audit log page: a label per family of actions (the action's prefix).
KINDS = {
    "cap": gettext_lazy("Spend limits"),
    "seat": gettext_lazy("Seats"),
    "member": gettext_lazy("Members and invitations"),
    "extra_usage": gettext_lazy("Extra usage settings"),
    "extra_usage_request": gettext_lazy("Extra usage requests"),
    "prepaid": gettext_lazy("Prepaid balance"),
    "notifications": gettext_lazy("Notifications"),
    "api_key": gettext_lazy("Machine API keys"),
    "admin_api_key": gettext_lazy("Admin API keys"),
    "invoice": gettext_lazy("Invoices"),
    "billing_details": gettext_lazy("Billing details"),
    "identity": gettext_lazy("Security and single sign-on"),
    "scim_token": gettext_lazy("SCIM tokens"),
    "scim_group": gettext_lazy("SCIM groups"),
    "scim": gettext_lazy("SCIM refusals"),
    "webhook_endpoint": gettext_lazy("Webhooks"),
    "webhook_delivery": gettext_lazy("Webhook deliveries"),
    "organization": gettext_lazy("Organization settings"),
}
LANGUAGE_NAMES = dict(settings.LANGUAGES)


def money(value) -> str:
    """A stored amount ("12.50", Decimal or None) in words: formatted money, or "unlimited" for None."""
    if value is None:
        return _("unlimited")
    try:
        return money_format(Decimal(str(value)))
    except InvalidOperation:
        return str(value)


def tier_name(code) -> str:
    return str(TIER_NAMES.get(code, code)) if code else _("no seat")


def role_name(code) -> str:
    return str(ROLE_NAMES.get(code, code))


def _member(target: str) -> str:
    return target.removeprefix("member:")


def _field(value, name, default=None):
    return value.get(name, default) if isinstance(value, dict) else default


def _cap(e: AuditEntry) -> str:
    whose = {
        "cap.organization": _("the organization's monthly spend limit"),
        "cap.seat_tier": _("the monthly spend limit of %(tier)s seats") % {
            "tier": tier_name(e.target.removeprefix("tier:"))},
    }.get(e.action) or _("the monthly spend limit of %(member)s") % {"member": _member(e.target)}
    return _("Set %(whose)s to %(new)s (was %(old)s).") % {"whose": whose, "new": money(e.new_value),
                                                          "old": money(e.old_value)}


def _cap_delete(e: AuditEntry) -> str:
    return _("Removed the own spend limit of %(member)s (was %(old)s); the seat-tier and organization limits "
             "still apply.") % {"member": _member(e.target), "old": money(e.old_value)}


def _seat(e: AuditEntry) -> str:
    values = {"member": e.target, "old": tier_name(e.old_value), "new": tier_name(e.new_value)}
    if e.old_value is None:
        return _("Gave %(member)s a %(new)s seat.") % values
    if e.new_value is None:
        return _("Ended the %(old)s seat of %(member)s.") % values
    return _("Moved %(member)s from a %(old)s seat to a %(new)s seat.") % values


def _seat_charge(e: AuditEntry) -> str:
    return _("Charged %(amount)s for moving %(member)s from a %(old)s seat to a %(new)s seat (the remaining "
             "%(days)s of %(period)s days of the period; reference %(reference)s).") % {
        "amount": money(_field(e.new_value, "amount")), "member": e.target,
        "old": tier_name(_field(e.new_value, "from")), "new": tier_name(_field(e.new_value, "to")),
        "days": _field(e.new_value, "remaining_days", ""), "period": _field(e.new_value, "period_days", ""),
        "reference": _field(e.new_value, "reference", "")}


def _invite(e: AuditEntry) -> str:
    values = {"email": e.target, "role": role_name(_field(e.new_value, "role")),
              "tier": tier_name(_field(e.new_value, "seat_tier"))}
    if _field(e.new_value, "seat_tier"):
        return _("Invited %(email)s as %(role)s with a %(tier)s seat.") % values
    return _("Invited %(email)s as %(role)s.") % values


def _role(e: AuditEntry) -> str:
    return _("Changed the role of %(member)s from %(old)s to %(new)s.") % {
        "member": e.target, "old": role_name(e.old_value), "new": role_name(e.new_value)}


def _switch(on, off, name: str) -> Callable[[AuditEntry], str]:
    """A sentence for an on/off setting; `on` and `off` are lazy, translated when an entry is read."""
    def sentence(e: AuditEntry) -> str:
        value = _field(e.new_value, name, e.new_value)
        return str(on if value else off)
    return sentence


def _extra_usage_members(e: AuditEntry) -> str:
    if _field(e.new_value, "all_members"):
        return _("Made extra usage available to all members.")
    return _("Made extra usage available only to the members chosen one by one.")


def _extra_usage_member(e: AuditEntry) -> str:
    if e.new_value:
        return _("Turned extra usage on for %(member)s.") % {"member": e.target}
    return _("Turned extra usage off for %(member)s.") % {"member": e.target}


def _auto_reload(e: AuditEntry) -> str:
    new = e.new_value if isinstance(e.new_value, dict) else {}
    if not new.get("auto_reload_enabled", False):
        return _("Turned auto-reload off.")
    values = {"amount": money(new.get("reload_amount")), "threshold": money(new.get("reload_threshold"))}
    if new.get("monthly_reload_limit") is None:
        return _("Turned auto-reload on: buy %(amount)s when the balance reaches %(threshold)s, with no monthly "
                 "limit.") % values
    values["limit"] = money(new["monthly_reload_limit"])
    return _("Turned auto-reload on: buy %(amount)s when the balance reaches %(threshold)s, at most %(limit)s a "
             "month.") % values


def _approve(e: AuditEntry) -> str:
    outcome, amount = _field(e.new_value, "outcome"), _field(e.new_value, "amount")
    values = {"member": e.target, "amount": money(amount)}
    if outcome == "moved_to_premium":
        return _("Approved the extra usage request of %(member)s: moved them to a Premium seat.") % values
    if outcome == "limit_set":
        return _("Approved the extra usage request of %(member)s: set their monthly limit to %(amount)s.") % values
    if amount is not None:
        return _("Approved the extra usage request of %(member)s: turned extra usage on for them, with a monthly "
                 "limit of %(amount)s.") % values
    return _("Approved the extra usage request of %(member)s: turned extra usage on for them.") % values


def _prepaid(e: AuditEntry) -> str:
    values = {"amount": money(_field(e.new_value, "amount")), "error": _field(e.new_value, "error", "")}
    return {
        "prepaid.purchase": _("Bought %(amount)s of prepaid extra usage."),
        "prepaid.auto_reload": _("Auto-reload added %(amount)s to the prepaid balance."),
        "prepaid.purchase.failed": _("A purchase of %(amount)s of prepaid extra usage failed: %(error)s"),
        "prepaid.auto_reload.failed": _("An auto-reload of %(amount)s failed: %(error)s"),
    }[e.action] % values


def _thresholds(e: AuditEntry) -> str:
    values = e.new_value if isinstance(e.new_value, list) else []
    return _("Set spend notices at %(percentages)s of each limit.") % {
        "percentages": ", ".join(f"{value}%" for value in values) or _("no threshold")}


def _admin_key_create(e: AuditEntry) -> str:
    scopes = ", ".join(str(SCOPE_NAMES.get(s, s)) for s in (_field(e.new_value, "scopes") or []))
    return _("Created the Admin API key “%(name)s” (%(scopes)s).") % {"name": _field(e.new_value, "name", ""),
                                                                     "scopes": scopes}


def _changed_fields(e: AuditEntry) -> str:
    """The names of the fields an update changed ("legal name, tax ID")."""
    new = e.new_value if isinstance(e.new_value, dict) else {}
    return ", ".join(name.replace("_", " ") for name in new) or _("nothing")


def _languages(e: AuditEntry) -> str:
    new = e.new_value if isinstance(e.new_value, dict) else {}
    parts = []
    if "default_language" in new:
        parts.append(_("default language %(language)s") % {
            "language": LANGUAGE_NAMES.get(new["default_language"], new["default_language"])})
    if "invoice_language" in new:
        parts.append(_("invoice language %(language)s") % {
            "language": LANGUAGE_NAMES.get(new["invoice_language"], new["invoice_language"])})
    return _("Set the organization's %(settings)s.") % {"settings": ", ".join(str(p) for p in parts)}


def _webhook_endpoint(verb: str) -> Callable[[AuditEntry], str]:
    def sentence(e: AuditEntry) -> str:
        state = e.new_value if isinstance(e.new_value, dict) and "url" in e.new_value else (
            e.old_value if isinstance(e.old_value, dict) else {})
        values = {"url": state.get("url", e.target), "events": ", ".join(state.get("events", [])) or _("no events")}
        return {
            "create": _("Added the webhook endpoint %(url)s for %(events)s."),
            "update": _("Changed the webhook endpoint %(url)s (now for %(events)s)."),
            "delete": _("Deleted the webhook endpoint %(url)s."),
        }[verb] % values
    return sentence


def _sso_settings(e: AuditEntry) -> str:
    values = {"issuer": _field(e.new_value, "issuer_url", "") or _("none")}
    if _field(e.new_value, "required") and not _field(e.old_value, "required"):
        return _("Changed the single sign-on settings (issuer %(issuer)s) and required single sign-on.") % values
    if _field(e.old_value, "required") and not _field(e.new_value, "required"):
        return _("Changed the single sign-on settings (issuer %(issuer)s) and stopped requiring single "
                 "sign-on.") % values
    return _("Changed the single sign-on settings (issuer %(issuer)s).") % values


def _domain_verify(e: AuditEntry) -> str:
    if _field(e.new_value, "dns", True) is False:
        return _("Marked the domain %(domain)s verified without a DNS lookup.") % {"domain": e.target}
    return _("Verified the domain %(domain)s by its DNS TXT record.") % {"domain": e.target}


def _sso_refused(e: AuditEntry) -> str:
    reason = _field(e.new_value, "reason")
    values = {"email": e.target}
    if reason == "primary_owner":
        return _("Refused a single sign-on for the primary owner's address %(email)s: the primary owner signs in "
                 "with a password and a second factor only.") % values
    if reason == "other_organization":
        return _("Refused a single sign-on for %(email)s: the account belongs to another organization.") % values
    return _("Refused a single sign-on for %(email)s: not an address of a verified domain.") % values


SENTENCES: dict[str, Callable[[AuditEntry], str]] = {
    "cap.organization": _cap,
    "cap.seat_tier": _cap,
    "cap.member": _cap,
    "cap.member.delete": _cap_delete,
    "seat.change": _seat,
    "seat.charge": _seat_charge,
    "member.invite": _invite,
    "member.invite.revoke": lambda e: _("Withdrew the invitation of %(email)s.") % {"email": e.target},
    "member.join": lambda e: _("%(email)s joined as %(role)s.") % {
        "email": e.target, "role": role_name(_field(e.new_value, "role"))},
    "member.role": _role,
    "member.remove": lambda e: _("Removed %(member)s from the organization.") % {"member": e.target},
    "member.primary_owner": lambda e: _("Made %(member)s the Primary Owner.") % {"member": e.target},
    "extra_usage.enable": lambda e: _("Turned extra usage on."),
    "extra_usage.disable": lambda e: _("Turned extra usage off."),
    "extra_usage.members": _extra_usage_members,
    "extra_usage.member": _extra_usage_member,
    "extra_usage.requests": _switch(gettext_lazy("Let members send extra usage requests."),
                                    gettext_lazy("Stopped members from sending extra usage requests."),
                                    "requests_enabled"),
    "extra_usage.auto_reload": _auto_reload,
    "extra_usage_request.approve": _approve,
    "extra_usage_request.close": lambda e: _("Closed the extra usage request of %(member)s as no longer needed: "
                                             "they can spend again.") % {"member": e.target},
    "extra_usage_request.deny": lambda e: _("Declined the extra usage request of %(member)s.") % {
        "member": e.target},
    "prepaid.purchase": _prepaid,
    "prepaid.auto_reload": _prepaid,
    "prepaid.purchase.failed": _prepaid,
    "prepaid.auto_reload.failed": _prepaid,
    "notifications.thresholds": _thresholds,
    "api_key.create": lambda e: _("Created the machine API key “%(name)s”.") % {
        "name": _field(e.new_value, "name", "")},
    "api_key.revoke": lambda e: _("Revoked the machine API key %(key)s.") % {"key": e.target},
    "admin_api_key.create": _admin_key_create,
    "admin_api_key.revoke": lambda e: _("Revoked the Admin API key “%(name)s”.") % {
        "name": _field(e.old_value, "name", e.target)},
    "invoice.void": lambda e: _("Voided invoice %(number)s: %(reason)s") % {
        "number": e.target, "reason": _field(e.new_value, "reason", "")},
    "invoice.reissue": lambda e: _("Reissued invoice %(old)s as %(number)s.") % {
        "old": e.old_value, "number": e.target},
    "invoice.paid": lambda e: _("Marked invoice %(number)s paid (%(source)s).") % {
        "number": e.target, "source": _field(e.new_value, "source", "")},
    "invoice.uncollectible": lambda e: _("Marked invoice %(number)s uncollectible.") % {"number": e.target},
    "invoice.credit_note": lambda e: _("Issued credit note %(number)s of %(total)s against invoice %(invoice)s: "
                                       "%(reason)s") % {
        "number": e.target, "total": money(_field(e.new_value, "total", None)),
        "invoice": _field(e.new_value, "invoice", e.old_value), "reason": _field(e.new_value, "reason", "")},
    "billing_details.update": lambda e: _("Updated the billing details: %(fields)s.") % {
        "fields": _changed_fields(e)},
    "billing_details.payment_terms": lambda e: _("Set the payment terms to net %(days)s days (was %(old)s).") % {
        "days": e.new_value, "old": e.old_value},
    "extra_usage.card": lambda e: _("Saved a card for prepaid purchases."),
    "identity.require_two_factor": _switch(gettext_lazy("Required two-factor authentication for every member."),
                                           gettext_lazy("Stopped requiring two-factor authentication."), "required"),
    "identity.sso": _sso_settings,
    "identity.domain.claim": lambda e: _("Claimed the domain %(domain)s for single sign-on and SCIM (not verified "
                                         "yet).") % {"domain": e.target},
    "identity.domain.verify": _domain_verify,
    "identity.domain.remove": lambda e: _("Removed the domain %(domain)s: single sign-on and SCIM no longer act on "
                                          "it.") % {"domain": e.target},
    "identity.sso.refused": _sso_refused,
    "scim.refused": lambda e: _("Refused to provision %(email)s through SCIM: the account belongs to another "
                                "organization.") % {"email": e.target},
    "identity.two_factor_reset": lambda e: _("Reset the two-factor authentication of %(member)s.") % {
        "member": e.target},
    "member.restore": lambda e: _("Restored %(member)s to the organization as %(role)s.") % {
        "member": e.target, "role": role_name(_field(e.new_value, "role"))},
    "organization.language": _languages,
    "scim_token.create": lambda e: _("Created the SCIM token “%(name)s”.") % {"name": _field(e.new_value, "name", "")},
    "scim_token.revoke": lambda e: _("Revoked the SCIM token %(token)s.") % {"token": e.target},
    "scim_group.save": lambda e: _("The identity provider set the members of the group %(group)s.") % {
        "group": e.target},
    "scim_group.delete": lambda e: _("The identity provider deleted the group %(group)s.") % {"group": e.target},
    "webhook_endpoint.create": _webhook_endpoint("create"),
    "webhook_endpoint.update": _webhook_endpoint("update"),
    "webhook_endpoint.delete": _webhook_endpoint("delete"),
    "webhook_endpoint.rotate_secret": lambda e: _("Rotated the signing secret of webhook endpoint %(endpoint)s; the "
                                                  "old secret keeps signing for 24 hours.") % {"endpoint": e.target},
    "webhook_endpoint.disable": lambda e: _("Disabled webhook endpoint %(endpoint)s after 3 days of failed "
                                            "deliveries.") % {"endpoint": e.target},
    "webhook_delivery.replay": lambda e: _("Sent webhook event %(event)s again.") % {"event": e.target},
}


def _value_words(value) -> str:
    if value is None:
        return _("none")
    if isinstance(value, dict):
        return ", ".join(f"{key.replace('_', ' ')}: {_value_words(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(_value_words(item) for item in value)
    if isinstance(value, bool):
        return _("on") if value else _("off")
    return str(value)


def audit_sentence(entry: AuditEntry) -> str:
    """One entry as a sentence in the active language (the actor and the time are shown beside it)."""
    sentence = SENTENCES.get(entry.action)
    if sentence is not None:
        return sentence(entry)
    what = entry.action.replace(".", " ").replace("_", " ")
    return _("Changed %(what)s%(target)s: %(old)s → %(new)s.") % {
        "what": what, "target": f" ({entry.target})" if entry.target and entry.target != "organization" else "",
        "old": _value_words(entry.old_value), "new": _value_words(entry.new_value)}


def audit_kind(action: str) -> str:
    """The filter family of an action: its first dotted part ("cap.member" → "cap")."""
    return action.split(".", 1)[0]
