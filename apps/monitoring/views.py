"""Usage dashboards (owners and admins; members get a 404) and each member's own usage page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from apps.common.service_messages import translated_message_dict
from apps.organizations.models import Membership
from apps.organizations.permissions import Capability, can, membership_for, require

from . import charts
from .forms import ThresholdsForm
from .ranges import PRESETS, DateRange, RangeError, current_period_range, date_range_from_query
from .selectors import (
    member_table,
    member_usage,
    notification_thresholds,
    org_dashboard,
    org_range_dashboard,
    tier_dashboard,
)
from .services import notification_settings_set, org_daily_refresh_request
from .totals import billed_period, closed_month_start, dashboard_totals


def _base(membership, section: str, date_range: DateRange | None = None, range_error: str = "") -> dict:
    return {
        "membership": membership,
        "organization": membership.organization,
        "section": section,
        "can_manage": can(membership, Capability.MANAGE_BILLING),
        "date_range": date_range,
        "range_error": range_error,
        "range_presets": PRESETS,
    }


def _date_range(request, organization) -> tuple[DateRange, str]:
    """The range the URL asks for (this period by default); a bad one falls back to this period, with why."""
    now = timezone.now()
    try:
        return date_range_from_query(request.GET, now=now, tz_name=organization.billing_timezone), ""
    except RangeError as error:
        return current_period_range(now=now, tz_name=organization.billing_timezone), str(error)


@login_required
def dashboard(request, slug):
    membership = require(request.user, slug, Capability.VIEW_ORG_USAGE, hide=True)
    organization = membership.organization
    date_range, range_error = _date_range(request, organization)
    if date_range.is_current_period:
        data = org_dashboard(organization=organization, now=timezone.now())
        chart_list = charts.org_charts(data)
    else:
        data = org_range_dashboard(organization=organization, date_range=date_range, now=timezone.now())
        chart_list = charts.range_charts(data)
    org_daily_refresh_request(organization=organization, period_starts=data.stale_periods)
    totals, billed = dashboard_totals(
        organization=organization, start=date_range.start, end=date_range.end,
        current_period_start=current_period_range(now=timezone.now(), tz_name=organization.billing_timezone).start)
    context = _base(membership, "overview", date_range, range_error) | {
        "data": data, "charts": chart_list, "totals": totals, "billed": billed}
    return render(request, "monitoring/dashboard.html", context)


@login_required
def dashboard_tiers(request, slug):
    membership = require(request.user, slug, Capability.VIEW_ORG_USAGE, hide=True)
    date_range, range_error = _date_range(request, membership.organization)
    clock, tiers = tier_dashboard(organization=membership.organization, now=timezone.now(), date_range=date_range)
    context = _base(membership, "tiers", date_range, range_error) | {
        "clock": clock, "tiers": tiers, "charts": charts.tier_charts(tiers)}
    return render(request, "monitoring/tiers.html", context)


@login_required
def dashboard_members(request, slug):
    membership = require(request.user, slug, Capability.VIEW_ORG_USAGE, hide=True)
    date_range, range_error = _date_range(request, membership.organization)
    table = member_table(
        organization=membership.organization, now=timezone.now(), query=request.GET.get("q", ""),
        sort=request.GET.get("sort", "-spend"), page_number=request.GET.get("page", 1), date_range=date_range,
    )
    return render(request, "monitoring/members.html",
                  _base(membership, "members", date_range, range_error) | {"table": table})


@login_required
def member_detail(request, slug, membership_id):
    viewer = require(request.user, slug, Capability.VIEW_ORG_USAGE, hide=True)
    target = Membership.objects.select_related("user").filter(
        organization=viewer.organization, pk=membership_id).first()
    if target is None:
        raise Http404
    date_range, range_error = _date_range(request, viewer.organization)
    data = member_usage(organization=viewer.organization, membership=target, now=timezone.now(),
                        date_range=date_range)
    closed = closed_month_start(start=date_range.start, end=date_range.end, current_period_start=current_period_range(
        now=timezone.now(), tz_name=viewer.organization.billing_timezone).start)
    billed = closed and billed_period(organization=viewer.organization, period_start=closed, membership_id=target.pk)
    context = _base(viewer, "members", date_range, range_error) | {
        "data": data, "charts": charts.member_charts(data), "billed": billed or None}
    return render(request, "monitoring/member_detail.html", context)


@login_required
def my_usage(request, slug):
    membership = membership_for(request.user, slug)
    data = member_usage(organization=membership.organization, membership=membership, now=timezone.now())
    context = _base(membership, "me") | {"data": data, "charts": charts.member_charts(data)}
    return render(request, "monitoring/my_usage.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request, slug):
    membership = require(request.user, slug, Capability.MANAGE_BILLING, hide=True)
    organization = membership.organization
    current = notification_thresholds(organization=organization)
    form = ThresholdsForm(request.POST or None, initial={"thresholds": ", ".join(str(t) for t in current)})
    if request.method == "POST" and form.is_valid():
        try:
            notification_settings_set(organization=organization, thresholds=form.cleaned_data["thresholds"],
                                      actor=request.user, now=timezone.now())
        except ValidationError as error:
            messages_by_field = translated_message_dict(error)
            for message in messages_by_field.get("thresholds", messages_by_field.get("__all__", [])):
                form.add_error("thresholds", message)
        else:
            messages.success(request, _("Notification thresholds saved."))
            return redirect("monitoring:notification_settings", slug=slug)
    status = 400 if request.method == "POST" else 200
    context = _base(membership, "notifications") | {"form": form, "thresholds": current}
    return render(request, "monitoring/notifications.html", context, status=status)
