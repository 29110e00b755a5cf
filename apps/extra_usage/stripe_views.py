"""Card capture for StripeProvider: an owner is sent to Stripe Checkout (setup mode) to save a card."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.organizations.permissions import Capability, require

from .payments import StripeProvider, payment_provider


@login_required
@require_POST
def stripe_card_setup(request, slug):
    """Owners: redirect to a Stripe Checkout page that saves a card; back to extra usage settings after."""
    membership = require(request.user, slug, Capability.MANAGE_EXTRA_USAGE)
    back = reverse("extra_usage:settings", kwargs={"slug": slug})
    provider = payment_provider()
    if not isinstance(provider, StripeProvider):
        messages.error(request, _("Cards are saved with Stripe only when the portal uses Stripe for payments."))
        return redirect(back)
    site = settings.SITE_URL.rstrip("/")
    url = provider.card_setup_url(organization=membership.organization, email=request.user.email,
                                  success_url=f"{site}{back}?card=saved", cancel_url=f"{site}{back}")
    return redirect(url)
