"""The guided set-up after "Enable" on Settings > Usage, as the help articles describe it.

- Team: pay (prepaid balance) → auto-reload → organization spend limit → which members.
- Seat-based Enterprise: organization spend limit → limits per seat tier → limits for individual members.

Each step is a page with its form, "Save and continue" and "Skip"; the last one ends on Settings > Usage. The
steps hold no state of their own: each shows the organization's current settings and saves through the same
services as the settings page (so every change is audited there), which makes a step safe to revisit or
leave. On Team, extra usage turns on when the pay step's purchase succeeds (or at once with a balance
already bought). Usage-based Enterprise has no extra usage, so no set-up (404). Owners only: admins get a
403, members and outsiders a 404.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from apps.common.money import money_format
from apps.common.service_messages import translated_message_dict
from apps.extra_usage.forms import AutoReloadForm, PurchaseForm
from apps.extra_usage.selectors import extra_usage_settings, member_switches
from apps.extra_usage.services.auto_reload import auto_reload_configure
from apps.extra_usage.services.prepaid import MIN_PURCHASE, prepaid_purchase
from apps.extra_usage.services.switches import extra_usage_enable
from apps.organizations.models import Membership, PlanKind
from apps.organizations.permissions import Capability
from apps.usage.models import CapScope
from apps.usage.services import cap_set

from .forms import ExtraUsageMembersForm, LimitsForm
from .selectors import current_period, members_page, org_cap_summary, tier_cap_rows
from .services import extra_usage_members_set, member_caps_set, tier_caps_set
from .views import _editor


@dataclass(frozen=True)
class Step:
    key: str
    title: Promise
    description: Promise


PAY = Step("pay", gettext_lazy("Pay"), gettext_lazy(
    "Extra usage on a Team plan is drawn from a prepaid balance. Buy an amount to start; extra usage turns on "
    "when the payment succeeds."))
AUTO_RELOAD = Step("auto-reload", gettext_lazy("Auto-reload"), gettext_lazy(
    "Top the balance up automatically so members are not stopped when it runs low."))
ORG_LIMIT = Step("org-limit", gettext_lazy("Spend limit"), gettext_lazy(
    "The most the whole organization may spend on extra usage each month."))
MEMBERS = Step("members", gettext_lazy("Members"), gettext_lazy(
    "Choose who can continue on extra usage after their seat's included usage."))
TIER_LIMITS = Step("tier-limits", gettext_lazy("Limits by seat tier"), gettext_lazy(
    "The most each member on a seat tier may spend on extra usage each month. Leave empty for unlimited."))
MEMBER_LIMITS = Step("member-limits", gettext_lazy("Spend limits by user"), gettext_lazy(
    "Limits for individual members, below their seat tier's. Leave empty for no limit of their own."))

FLOWS = {
    PlanKind.TEAM: (PAY, AUTO_RELOAD, ORG_LIMIT, MEMBERS),
    PlanKind.ENTERPRISE_SEAT: (ORG_LIMIT, TIER_LIMITS, MEMBER_LIMITS),
}


def _owner(request, slug) -> Membership:
    membership = _editor(request, slug, Capability.MANAGE_EXTRA_USAGE)
    if membership.organization.plan_kind not in FLOWS:
        raise Http404("Usage-based Enterprise has no extra usage to set up.")
    return membership


def _step_url(slug: str, step: Step | None) -> str:
    if step is None:
        return reverse("console:extra_usage_setup_finish", kwargs={"slug": slug})
    return reverse("console:extra_usage_setup_step", kwargs={"slug": slug, "step": step.key})


def _errors_into(form, error: ValidationError) -> None:
    for field, errors in translated_message_dict(error).items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
@require_GET
def extra_usage_setup(request, slug):
    """The set-up's first step for this plan."""
    membership = _owner(request, slug)
    return redirect(_step_url(slug, FLOWS[membership.organization.plan_kind][0]))


@login_required
@require_GET
def extra_usage_setup_finish(request, slug):
    """The end of the set-up: Settings > Usage, saying what is still to do when extra usage is off."""
    membership = _owner(request, slug)
    if extra_usage_settings(organization=membership.organization).enabled:
        messages.success(request, _("Extra usage is set up. You can change any of it below."))
    else:
        messages.warning(request, _("Extra usage is still off: buy prepaid extra usage to turn it on."))
    return redirect(reverse("console:usage_settings", kwargs={"slug": slug}) + "#extra-usage")


@login_required
@require_http_methods(["GET", "POST"])
def extra_usage_setup_step(request, slug, step):
    """One step: GET shows its form with the current settings; a valid POST saves and goes to the next step."""
    membership = _owner(request, slug)
    organization = membership.organization
    flow = FLOWS[organization.plan_kind]
    current = next((s for s in flow if s.key == step), None)
    if current is None:
        raise Http404("No such step in this plan's set-up.")
    index = flow.index(current)
    next_step = flow[index + 1] if index + 1 < len(flow) else None
    outcome = STEP_HANDLERS[current.key](request, membership)
    if isinstance(outcome, str):  # saved: a message for the next page
        messages.success(request, outcome)
        return redirect(_step_url(slug, next_step))
    context = {
        "organization": organization, "membership": membership, "flow": flow, "step": current,
        "number": index + 1, "skip_url": _step_url(slug, next_step), "last": next_step is None,
        "settings": extra_usage_settings(organization=organization), **outcome,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "console/extra_usage_setup.html", context, status=status)


# --- The steps: each returns a message when saved, else the context its form needs ----------------------------


def _pay(request, membership) -> str | dict:
    organization = membership.organization
    form = PurchaseForm(request.POST if request.method == "POST" else None, initial={
        "token": secrets.token_urlsafe(24), "amount": Decimal("100.00")})
    if form.is_valid():
        now = timezone.now()
        try:
            charge = prepaid_purchase(organization=organization, amount=form.cleaned_data["amount"],
                                      idempotency_key=form.cleaned_data["token"], actor=request.user, now=now)
            if form.charge_succeeded(charge):
                extra_usage_enable(organization=organization, actor=request.user, now=now)
                return _("Bought %(amount)s of prepaid extra usage; extra usage is on.") % {
                    "amount": money_format(charge.amount)}
        except ValidationError as error:
            _errors_into(form, error)
    balance = extra_usage_settings(organization=organization).prepaid_balance
    return {"form": form, "balance": money_format(Decimal(balance)), "has_balance": balance > 0,
            "minimum_purchase": MIN_PURCHASE}


def _auto_reload(request, membership) -> str | dict:
    organization = membership.organization
    settings = extra_usage_settings(organization=organization)
    form = AutoReloadForm(request.POST if request.method == "POST" else None, initial={
        "enabled": settings.auto_reload_enabled or settings.reload_amount is None,
        "reload_threshold": settings.reload_threshold if settings.reload_threshold is not None else Decimal("10.00"),
        "reload_amount": settings.reload_amount or Decimal("50.00"),
        "monthly_reload_limit": settings.monthly_reload_limit,
    })
    if form.is_valid():
        data = form.cleaned_data
        try:
            auto_reload_configure(organization=organization, enabled=data["enabled"],
                                  threshold=data["reload_threshold"], amount=data["reload_amount"],
                                  monthly_limit=data["monthly_reload_limit"], actor=request.user, now=timezone.now())
        except ValidationError as error:
            _errors_into(form, error)
        else:
            return _("Auto-reload is on.") if data["enabled"] else _("Auto-reload is off.")
    return {"form": form}


def _org_limit(request, membership) -> str | dict:
    organization = membership.organization
    now = timezone.now()
    summary = org_cap_summary(organization=organization,
                              period_start=current_period(organization=organization, now=now).start)
    form = LimitsForm(request.POST if request.method == "POST" else None,
                      rows={"amount": (_("Monthly limit (USD)"), summary.limit)})
    if form.is_valid():
        if not form.cleaned_data:
            return _("Nothing to change: the organization spend limit stays %(amount)s.") % {
                "amount": money_format(summary.limit)}
        amount = form.cleaned_data["amount"]
        try:
            cap_set(organization=organization, scope=CapScope.ORGANIZATION, amount=amount, actor=request.user, now=now)
        except ValidationError as error:
            _errors_into(form, error)
        else:
            return _("Organization spend limit: %(amount)s") % {"amount": money_format(amount)}
    return {"form": form, "current_limit": summary.limit}


def _tier_limits(request, membership) -> str | dict:
    organization = membership.organization
    rows = tier_cap_rows(organization=organization)
    tiers = {f"tier_{row.tier.pk}": row.tier for row in rows}
    form = LimitsForm(request.POST if request.method == "POST" else None,
                      rows={f"tier_{row.tier.pk}": (row.tier.get_code_display(), row.limit) for row in rows})
    if form.is_valid():
        if not form.cleaned_data:
            return _("Nothing to change on the seat tier limits.")
        try:
            tier_caps_set(organization=organization, amounts={tiers[k]: v for k, v in form.cleaned_data.items()},
                          actor=request.user, now=timezone.now())
        except ValidationError as error:
            _errors_into(form, error)
        else:
            return _("Seat tier limits saved.")
    return {"form": form, "limit_rows": [(form[name], tiers[name]) for name in tiers]}


def _member_limits(request, membership) -> str | dict:
    organization = membership.organization
    search = request.GET.get("q", "")[:100]
    page, rows = members_page(organization=organization, search=search, page_number=request.GET.get("page", 1),
                              period_start=current_period(organization=organization, now=timezone.now()).start,
                              with_limits=True)
    members = {f"member_{row.membership.pk}": row.membership for row in rows}
    form = LimitsForm(request.POST if request.method == "POST" else None, rows={
        f"member_{row.membership.pk}": (row.membership.user.display_name, row.own_cap) for row in rows})
    if form.is_valid():
        if not form.cleaned_data:
            return _("Nothing to change on the individual limits.")
        try:
            member_caps_set(organization=organization,
                            amounts={members[k]: v for k, v in form.cleaned_data.items()},
                            actor=request.user, now=timezone.now())
        except ValidationError as error:
            _errors_into(form, error)
        else:
            return _("Individual limits saved.")
    return {"form": form, "q": search, "members_page": page,
            "member_rows": [(form[f"member_{row.membership.pk}"], row) for row in rows]}


def _members(request, membership) -> str | dict:
    organization = membership.organization
    settings = extra_usage_settings(organization=organization)
    switches = member_switches(organization=organization)
    by_id = {row.membership.pk: row.membership for row in switches}
    form = ExtraUsageMembersForm(request.POST if request.method == "POST" else None, member_ids=list(by_id), initial={
        "all_members": "all" if settings.all_members else "chosen",
        "enabled": [str(row.membership.pk) for row in switches if row.enabled]})
    if form.is_valid():
        chosen = set(form.cleaned_data["enabled"])
        all_members = form.cleaned_data["all_members"] == "all"
        try:
            extra_usage_members_set(
                organization=organization, all_members=all_members, actor=request.user, now=timezone.now(),
                switches={} if all_members else {m: str(pk) in chosen for pk, m in by_id.items()})
        except ValidationError as error:
            _errors_into(form, error)
        else:
            return _("Extra usage applies to all members.") if all_members else _(
                "Extra usage applies to the members you choose.")
    checked = set(form["enabled"].value() or [])
    return {"form": form, "switches": [(row, str(row.membership.pk) in checked) for row in switches],
            "all_members_value": form["all_members"].value()}


STEP_HANDLERS = {
    PAY.key: _pay, AUTO_RELOAD.key: _auto_reload, ORG_LIMIT.key: _org_limit, MEMBERS.key: _members,
    TIER_LIMITS.key: _tier_limits, MEMBER_LIMITS.key: _member_limits,
}

