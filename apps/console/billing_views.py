"""Billing history (/orgs/<slug>/billing/history/) and each charge's receipt.

Owners and admins read them (admins already read the invoices they sit beside; nothing here writes); members and
outsiders get a 404, as on the other billing pages.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.invoicing.services import billing_profile_get
from apps.organizations.permissions import Capability, require

from .billing_selectors import billing_charge, billing_history_page


def _viewer(request, slug):
    return require(request.user, slug, Capability.VIEW_ORG_USAGE, hide=True)


@login_required
@require_GET
def billing_history(request, slug):
    """Every charge, newest first, 50 a page: seat prorations, prepaid purchases, auto-reloads, invoice payments."""
    membership = _viewer(request, slug)
    organization = membership.organization
    page, rows = billing_history_page(organization=organization, page_number=request.GET.get("page", 1))
    return render(request, "console/billing_history.html", {
        "membership": membership, "organization": organization, "page": page, "rows": rows})


@login_required
@require_GET
def billing_receipt(request, slug, kind, charge_id):
    """A charge's receipt: who paid what, when, for what, under which reference."""
    membership = _viewer(request, slug)
    organization = membership.organization
    row = billing_charge(organization=organization, kind=kind, pk=charge_id)
    if row is None:
        raise Http404
    return render(request, "console/billing_receipt.html", {
        "membership": membership, "organization": organization, "row": row,
        "profile": billing_profile_get(organization=organization)})
