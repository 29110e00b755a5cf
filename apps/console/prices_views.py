"""Prices: the per-model rates every request is billed at, read-only, for owners and admins (members and
outsiders get a 404). Staff change prices in Django admin."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.organizations.permissions import Capability, require
from apps.usage.pricing import LONG_CONTEXT_THRESHOLD, price_schedules


@login_required
@require_GET
def prices(request, slug):
    membership = require(request.user, slug, Capability.VIEW_ORG_USAGE, hide=True)
    return render(request, "console/prices.html", {
        "membership": membership, "organization": membership.organization,
        "schedules": price_schedules(at=timezone.now()), "long_context_threshold": LONG_CONTEXT_THRESHOLD,
    })
