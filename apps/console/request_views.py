"""Requests for extra usage, on pages: the approvers' review modal ("Increase limit" / "Deny") and the member's
own request. Here because they read the admission decision (apps/spending/requests.py says what an approval
does); their URLs keep the `extra_usage:` names (apps/console/extra_usage_urls.py).

The modal's forms post with HTMX into the dialog: a refused approval or one that needs a confirmation is the
modal again with that request's answer; a done one redirects (HX-Redirect) back with a message."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from apps.common.money import money_format
from apps.extra_usage.forms import ApproveForm, RequestForm
from apps.extra_usage.models import ExtraUsageRequest
from apps.extra_usage.services import usage_requests
from apps.extra_usage.views import _back, _error_text, _is_htmx, _next_value
from apps.organizations.models import Membership
from apps.organizations.permissions import Capability, can, require
from apps.spending import requests as spend_requests
from apps.spending.requests import Plan, Review, Step, StepKind, Why
from apps.spending.selectors import MemberContext, Reason
from apps.usage.models import CapScope
from apps.usage.refusals import refusal_text

# --- Sentences -------------------------------------------------------------------------------------------------


def _tier_name(found: MemberContext) -> str:
    return found.tier.get_code_display() if found.tier else ""


def binding_sentence(review_or_found, reason: str | None, *, name: str, members: int = 0) -> str:
    """What stops the member, naming the limit that binds: "Barbara is stopped by the Chat tier's $60.00
    limit (8 members)."."""
    found = review_or_found
    status = found.status
    values = {"name": name, "limit": money_format(status.limit), "tier": _tier_name(found), "count": members}
    if reason is None:
        return _("%(name)s can spend again: this request is no longer needed.") % values
    if reason == Reason.MEMBER_CAP:
        return _("%(name)s is stopped by their own %(limit)s limit.") % values
    if reason == Reason.TIER_CAP:
        return ngettext("%(name)s is stopped by the %(tier)s tier's %(limit)s limit (%(count)d member).",
                        "%(name)s is stopped by the %(tier)s tier's %(limit)s limit (%(count)d members).",
                        members) % values
    if reason == Reason.ORG_CAP:
        return _("%(name)s is stopped by the organization's %(limit)s limit.") % values
    if reason == Reason.INCLUDED_USAGE_EXHAUSTED:
        return _("%(name)s has used the usage included in their seat, and extra usage is off.") % values
    if reason == Reason.EXTRA_USAGE_DISABLED:
        return _("%(name)s has used the usage included in their seat, and extra usage is off for them.") % values
    if reason == Reason.PREPAID_BALANCE_EXHAUSTED:
        return _("%(name)s is stopped because the prepaid balance is used up.") % values
    return _("%(name)s is stopped: %(reason)s") % {**values, "reason": refusal_text(reason)}


def limit_source(found: MemberContext) -> str:
    source = found.status.source
    if source == CapScope.MEMBER:
        return _("own limit")
    if source == CapScope.SEAT_TIER:
        return _("%(tier)s tier") % {"tier": _tier_name(found)}
    if source == CapScope.ORGANIZATION:
        return _("organization")
    return ""


def step_sentence(step: Step, *, name: str) -> str:
    values = {"name": name, "old": money_format(step.old), "new": money_format(step.new),
              "tier": step.tier.get_code_display() if step.tier else "", "count": step.members}
    if step.kind == StepKind.MEMBER_LIMIT:
        return _("%(name)s's own monthly limit: %(old)s → %(new)s") % values
    if step.kind in (StepKind.EXTRA_USAGE_ON, StepKind.MEMBER_EXTRA_USAGE):
        return _("Extra usage on for %(name)s") % values
    if step.kind == StepKind.TIER_LIMIT:
        return ngettext("The %(tier)s tier's limit: %(old)s → %(new)s (%(count)d member)",
                        "The %(tier)s tier's limit: %(old)s → %(new)s (%(count)d members)", step.members) % values
    if step.kind == StepKind.ORG_LIMIT:
        return _("The organization's limit: %(old)s → %(new)s") % values
    price = step.price
    return _("%(name)s: Standard → Premium seat, %(now)s charged now (on the next invoice), then %(monthly)s more "
             "each month") % {**values, "now": money_format(price.amount),
                              "monthly": money_format(price.fee_difference)}


def confirm_label(plan: Plan) -> str:
    """The one-click button of a plan that needs confirming, with its figure."""
    first = plan.confirmations[0]
    if first.kind == StepKind.TIER_LIMIT:
        return _("Raise the %(tier)s tier's limit to %(amount)s") % {"tier": first.tier.get_code_display(),
                                                                      "amount": money_format(first.new)}
    if first.kind == StepKind.ORG_LIMIT:
        return _("Raise the organization's limit to %(amount)s") % {"amount": money_format(first.new)}
    return _("Move to Premium for %(amount)s now") % {"amount": money_format(first.price.amount)}


def why_sentence(plan: Plan, found: MemberContext, *, name: str) -> str:
    """Why this approval cannot let the member continue, and who can."""
    values = {"name": name, "spend": money_format(found.status.spend), "tier": _tier_name(found)}
    if plan.why == Why.OWNER_NEEDED:
        if plan.stop == Reason.TIER_CAP:
            return _("Only an owner can raise the %(tier)s tier's limit; the request stays pending.") % values
        if plan.stop == Reason.ORG_CAP:
            return _("Only an owner can raise the organization's limit; the request stays pending.") % values
        if plan.stop == Reason.PREPAID_BALANCE_EXHAUSTED:
            return _("Only an owner can buy prepaid extra usage; the request stays pending.") % values
        return _("Only an owner can move a member to a costlier seat, because it is charged.") % values
    if plan.why == Why.AMOUNT_NEEDED:
        return _("Enter the member's new monthly limit.")
    if plan.why == Why.AMOUNT_TOO_LOW:
        return _("Enter a limit above what %(name)s has spent this period (%(spend)s).") % values
    if plan.why == Why.BUY_PREPAID:
        return _("Buy prepaid extra usage first; the request stays pending.") % values
    return _("No approval can let %(name)s continue now: %(reason)s") % {
        **values, "reason": refusal_text(plan.stop) if plan.stop else ""}


# --- The review modal ------------------------------------------------------------------------------------------


def _row(review: Review, *, owner: bool, can_charge: bool, state: dict | None = None) -> dict:
    """What the modal shows for one request (state: this request's answer to a post)."""
    found, name = review.found, review.name
    row = {
        "review": review,
        "request": review.request,
        "email": review.email,
        "name": name,
        "tier_label": _tier_name(found) or _("No seat"),
        "spend": found.member.spend,
        "limit": found.status.limit,
        "source": limit_source(found),
        "binding": binding_sentence(found, review.admission.reason, name=name, members=review.tier_members),
        "amount": review.suggested,
        "can_charge": can_charge,
        "hint": "", "error": "", "buy_prepaid": False, "one_click": None, "confirm": None, "upgrade": None,
    }
    plan = review.plan
    if plan is not None and not plan.allowed:
        row["hint"] = why_sentence(plan, found, name=name)
        row["buy_prepaid"] = plan.why == Why.BUY_PREPAID
    elif plan is not None and plan.confirmations and owner:
        row["one_click"] = {"label": confirm_label(plan), "signature": plan.signature, "amount": review.suggested,
                            "steps": [step_sentence(s, name=name) for s in plan.steps]}
    if review.upgrade is not None and can_charge and not review.no_longer_needed:
        premium, price = review.upgrade
        row["upgrade"] = price
    row.update(state or {})
    return row


def _modal(request, membership: Membership, *, states: dict | None = None, status: int = 200):
    organization = membership.organization
    owner = can(membership, Capability.MANAGE_CAPS)
    can_charge = can(membership, Capability.MANAGE_SEATS)
    reviews = spend_requests.pending_reviews(organization=organization, owner=owner, now=timezone.now())
    rows = [_row(r, owner=owner, can_charge=can_charge, state=(states or {}).get(r.request.public_id))
            for r in reviews]
    return render(request, "extra_usage/review_modal.html", {
        "organization": organization, "rows": rows, "seat_based": organization.is_seat_based,
        "next": _next_value(request), "is_owner": owner,
    }, status=status)


@login_required
@require_GET
def review_modal(request, slug):
    membership = require(request.user, slug, Capability.REVIEW_REQUESTS)
    return _modal(request, membership)


def _done_message(approval: spend_requests.Approval, *, email: str, name: str) -> str:
    if approval.closed:
        return _("%(email)s can already spend again: the request was closed as no longer needed.") % {
            "email": email}
    steps = " · ".join(step_sentence(s, name=name) for s in approval.plan.steps) if approval.plan else ""
    text = _("Increased the limit for %(email)s: they can keep working, and will be emailed.") % {"email": email}
    return f"{text} {steps}." if steps else text


@login_required
@require_POST
def request_approve(request, slug, public_id):
    """"Increase limit": the approval lifts what stops the member, within the approver's role, or says why it
    cannot (the request stays pending)."""
    membership = require(request.user, slug, Capability.REVIEW_REQUESTS)
    item = get_object_or_404(ExtraUsageRequest.objects.select_related("membership__user"),
                             organization=membership.organization, public_id=public_id)
    email, name = item.membership.user.email, item.membership.user.name or item.membership.user.email
    form = ApproveForm(request.POST)

    def answer(state: dict):
        if _is_htmx(request):
            return _modal(request, membership, states={public_id: state})
        messages.error(request, f"{email}: {state.get('error') or state.get('confirm_text', '')}")
        return _back(request, slug, fragment="review-requests")

    if not form.is_valid():
        return answer({"error": " ".join(e for errs in form.errors.values() for e in errs),
                       "amount": request.POST.get("amount")})
    data = form.cleaned_data
    upgrade = data["upgrade"]
    if upgrade and not can(membership, Capability.MANAGE_SEATS):
        return answer({"error": _("Only an owner can move a member to a costlier seat, because it is charged.")})
    try:
        approval = spend_requests.extra_usage_request_approve(
            request=item, amount=data["amount"], actor=request.user, owner=can(membership, Capability.MANAGE_CAPS),
            upgrade=upgrade, confirm=data["confirm"] or None, now=timezone.now())
    except spend_requests.ConfirmationNeeded as needed:
        plan = needed.plan
        return answer({"confirm": {"label": confirm_label(plan), "signature": plan.signature,
                                   "amount": data["amount"], "upgrade": upgrade,
                                   "steps": [step_sentence(s, name=name) for s in plan.steps]},
                       "confirm_text": " · ".join(step_sentence(s, name=name) for s in plan.steps),
                       "amount": data["amount"]})
    except spend_requests.ApprovalRefused as refused:
        return answer({"error": why_sentence(refused.plan, refused.found, name=name), "amount": data["amount"],
                       "buy_prepaid": refused.plan.why == Why.BUY_PREPAID})
    except ValidationError as error:
        return answer({"error": _error_text(error), "amount": data["amount"]})
    messages.success(request, _done_message(approval, email=email, name=name))
    return _back(request, slug)


@login_required
@require_POST
def request_deny(request, slug, public_id):
    membership = require(request.user, slug, Capability.REVIEW_REQUESTS)
    item = get_object_or_404(ExtraUsageRequest, organization=membership.organization, public_id=public_id)
    try:
        usage_requests.extra_usage_request_deny(request=item, actor=request.user, now=timezone.now())
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return _back(request, slug)
    messages.success(request, _("Declined the request of %(email)s; they will be emailed.") % {
        "email": item.membership.user.email})
    return _back(request, slug)


# --- The member's own request ----------------------------------------------------------------------------------


@login_required
@require_GET
def my_extra_usage(request, slug):
    """A member's extra usage this period and their "Request extra usage" link."""
    membership = require(request.user, slug, Capability.VIEW_OWN_USAGE)
    summary = spend_requests.member_extra_usage_summary(membership=membership, now=timezone.now())
    return render(request, "extra_usage/my_extra_usage.html",
                  {"organization": membership.organization, "membership": membership, "summary": summary})


@login_required
@require_POST
def request_create(request, slug):
    """"Request extra usage", with an optional note and amount: one pending request per member; a second click
    creates nothing."""
    membership = require(request.user, slug, Capability.VIEW_OWN_USAGE)
    error = None
    form = RequestForm(request.POST)
    if not form.is_valid():
        error = " ".join(e for errs in form.errors.values() for e in errs)
    else:
        try:
            usage_requests.extra_usage_request_create(membership=membership, now=timezone.now(),
                                                      note=form.cleaned_data["note"],
                                                      amount=form.cleaned_data["amount"])
        except ValidationError as exc:
            error = _error_text(exc)
    if _is_htmx(request):
        summary = spend_requests.member_extra_usage_summary(membership=membership, now=timezone.now())
        return render(request, "extra_usage/_member_request_body.html",
                      {"organization": membership.organization, "summary": summary, "error": error,
                       "next": _next_value(request)})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Request sent to admin."))
    target = _next_value(request) or reverse("extra_usage:my", kwargs={"slug": slug})
    return redirect(target)

