"""The domain services' validation messages, for the pages that show them.

Services raise English messages (the machine API and the Admin API answer in English). A page shows a
service's ValidationError through `translated_messages(error)`, which looks each message up in the catalogs;
the messages are marked here with gettext_noop so makemessages puts them in the catalogs without the services
(other apps, other branches) having to change. A message not listed here is shown as raised, in English.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_noop

SERVICE_MESSAGES = (
    # apps/organizations/services.py
    gettext_noop("Enter an email address."),
    gettext_noop("Choose member, admin or owner."),
    gettext_noop("Only the primary owner can make someone an owner."),
    gettext_noop("This person is already a member."),
    gettext_noop("This invitation link is no longer valid."),
    gettext_noop("An account already exists for this address: log in to accept."),
    gettext_noop("Choose a password of at least 8 characters."),
    gettext_noop("You are already a member of this organization."),
    gettext_noop("Choose a member of this organization."),
    gettext_noop("Transfer the primary owner role to someone else first."),
    gettext_noop("Only the primary owner can make someone an owner or change an owner's role."),
    gettext_noop("You cannot change your own role."),
    gettext_noop("Only the primary owner can transfer the primary owner role."),
    gettext_noop("The primary owner cannot be removed."),
    gettext_noop("Only the primary owner can remove an owner."),
    gettext_noop("You cannot remove yourself."),
    # apps/console/services.py
    gettext_noop("This invitation was accepted or withdrawn; invite the person again."),
    # apps/usage/services.py
    gettext_noop("Enter an amount in dollars."),
    gettext_noop("The limit cannot be negative."),
    gettext_noop("Use at most two decimal places."),
    gettext_noop("The limit cannot exceed $10,000,000.00 a month."),
    gettext_noop("Seat-tier limits are not offered on Team plans."),
    gettext_noop("Choose a seat tier of this organization."),
    gettext_noop("Only a member's own limit can be removed."),
    # apps/seats/services.py
    gettext_noop("That tier belongs to another organization."),
    # apps/extra_usage/services.py
    gettext_noop("Buy prepaid extra usage before turning extra usage on."),
    gettext_noop("Requests for extra usage are offered on Enterprise plans."),
    gettext_noop("Auto-reload is offered on Team plans, which prepay extra usage."),
    gettext_noop("The monthly limit must allow at least one reload."),
    gettext_noop("Prepaid extra usage is offered on Team plans."),
    gettext_noop("Your organization does not accept requests for extra usage."),
    gettext_noop("Enter the member's new monthly limit."),
    gettext_noop("This request was already approved."),
    # apps/monitoring/services.py
    gettext_noop("Enter at least one percentage."),
    gettext_noop("Each percentage must be a whole number from 1 to 100."),
    gettext_noop("Each percentage may appear once."),
    # apps/admin_api/services.py (the Admin API keys page)
    gettext_noop("Choose at least one scope."),
    gettext_noop("Enter a name to recognise the key by."),
    gettext_noop("The Admin API is offered on Enterprise plans only."),
    # apps/invoicing/services.py (billing details, card payment of an invoice)
    gettext_noop("Choose a country."),
    gettext_noop("This invoice is not awaiting payment."),
    gettext_noop("Nothing is due on this invoice."),
    gettext_noop("Amounts under $0.50 cannot be paid by card; pay by bank transfer."),
)


def translated(message: str) -> str:
    """A service's message in the active language (as raised when the catalogs do not know it)."""
    return gettext(message) if message else message


def translated_messages(error: ValidationError) -> list[str]:
    return [translated(message) for message in error.messages]


def translated_message_dict(error: ValidationError) -> dict[str, list[str]]:
    if not hasattr(error, "error_dict"):
        return {"__all__": translated_messages(error)}
    return {field: [translated(message) for message in messages] for field, messages in error.message_dict.items()}
