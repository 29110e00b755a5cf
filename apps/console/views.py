"""Owner console pages: Settings > Usage (caps and the audit trail) and Members (seats, roles, invitations).

Access: anyone outside the organization, and plain members, get a 404; admins read; owners and the primary
owner change things (an admin's write is a 403). Modals are HTMX partials: an invalid form re-renders inside the
modal; success answers 204 with HX-Trigger events that close the modal and refresh the affected sections.
"""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.models import User
from apps.common.money import MAX_CAP_AMOUNT, money_format
from apps.common.service_messages import translated_message_dict, translated_messages
from apps.organizations.models import Invitation, Membership, PlanKind, Role
from apps.organizations.permissions import Capability, can, require
from apps.organizations.selectors import audit_entries
from apps.organizations.services import (
    invitation_for_token,
    invitation_revoke,
    membership_role_set,
    organization_languages_set,
)
from apps.seats.models import SeatTier
from apps.seats.selectors import seat_change_proration, seat_current, seat_tiers
from apps.seats.services import membership_remove, seat_assign
from apps.usage.models import CapScope
from apps.usage.services import cap_delete, cap_set

from .forms import AcceptForm, CapForm, InviteForm, LanguageSettingsForm, RoleForm
from .selectors import (
    SORTS,
    current_period,
    member_in_org,
    member_own_cap,
    members_page,
    org_cap_summary,
    tier_cap_rows,
)
from .services import member_invitation_resend, member_invite, member_join

# Unanswered invitations stay listed (and can be sent again) this long after they expire.
INVITATION_RESEND_WINDOW = dt.timedelta(days=30)

CHANGES_PER_PAGE = 20


# --- helpers ---------------------------------------------------------------------------------------------------


def _viewer(request, slug) -> Membership:
    """Admins and above see these pages; members and outsiders get a 404."""
    return require(request.user, slug, Capability.VIEW_ORG_USAGE, hide=True)


def _editor(request, slug, capability: Capability) -> Membership:
    """Owners edit; an admin (who can see the page) gets a 403; members and outsiders a 404."""
    membership = _viewer(request, slug)
    if not can(membership, capability):
        raise PermissionDenied
    return membership


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _done(request, redirect_to: str, triggers: dict, message: str) -> HttpResponse:
    """Success: HTMX gets 204 + events (close the modal, refresh sections, toast); a plain form a redirect."""
    if not _is_htmx(request):
        messages.success(request, message)
        return redirect(redirect_to)
    response = HttpResponse(status=204)
    response["HX-Trigger"] = json.dumps({"closeModal": True, **triggers, "toast": message})
    return response


def _errors_into(form, error: ValidationError) -> None:
    for field, msgs in translated_message_dict(error).items():
        form.add_error(field if field in form.fields else None, msgs)


def _query(request, *keys) -> str:
    return urlencode({k: request.GET[k] for k in keys if request.GET.get(k)})


# --- Settings > Usage ------------------------------------------------------------------------------------------


def _org_cap_context(membership, now):
    organization = membership.organization
    period = current_period(organization=organization, now=now)
    return {"org_cap": org_cap_summary(organization=organization, period_start=period.start), "period": period}


def _tier_caps_context(membership):
    organization = membership.organization
    offered = organization.plan_kind != PlanKind.TEAM
    return {"tier_caps_offered": offered, "tier_caps": tier_cap_rows(organization=organization) if offered else []}


def _limits_context(request, membership, now):
    organization = membership.organization
    period = current_period(organization=organization, now=now)
    search = request.GET.get("q", "")[:100]
    sort = request.GET.get("sort", "name")
    sort = sort if sort in SORTS else "name"
    page, rows = members_page(organization=organization, period_start=period.start, search=search, sort=sort,
                              page_number=request.GET.get("page", 1), with_limits=True)
    return {"limits_page": page, "limit_rows": rows, "q": search, "sort": sort,
            "limits_query": urlencode({k: v for k, v in (("q", search), ("sort", sort), ("page", page.number)) if v})}


# What admins see of Recent changes: the spend settings their own pages show (issue 26: identity, webhook, key and
# billing settings are for owners, as is the full audit log).
ADMIN_CHANGE_KINDS = ("cap", "seat", "extra_usage", "extra_usage_request", "prepaid", "notifications")


def _changes_context(request, membership):
    kinds = None if can(membership, Capability.MANAGE_MEMBERS) else ADMIN_CHANGE_KINDS
    paginator = Paginator(audit_entries(organization=membership.organization, kinds=kinds), CHANGES_PER_PAGE)
    return {"changes_page": paginator.get_page(request.GET.get("changes", 1))}


def _base_context(membership, now):
    return {"membership": membership, "organization": membership.organization,
            "can_edit": can(membership, Capability.MANAGE_CAPS), "now": now}


@login_required
@require_GET
def usage_settings(request, slug):
    """Settings > Usage: the organization cap, seat-tier caps, individual limits and recent changes."""
    membership = _viewer(request, slug)
    now = timezone.now()
    context = _base_context(membership, now)
    context.update(_org_cap_context(membership, now))
    context.update(_tier_caps_context(membership))
    context.update(_limits_context(request, membership, now))
    context.update(_changes_context(request, membership))
    # Extension point for other apps' sections on this page (the extra-usage settings, for one): append the
    # template names to render, in order, after "Individual limits". Each template receives this context.
    context["extra_sections"] = ["extra_usage/_settings_sections.html"]
    return render(request, "console/usage_settings.html", context)


@login_required
@require_GET
def org_cap_section(request, slug):
    membership = _viewer(request, slug)
    now = timezone.now()
    context = {**_base_context(membership, now), **_org_cap_context(membership, now)}
    return render(request, "console/_org_cap_section.html", context)


@login_required
@require_GET
def tier_caps_section(request, slug):
    membership = _viewer(request, slug)
    context = {**_base_context(membership, timezone.now()), **_tier_caps_context(membership)}
    return render(request, "console/_tier_caps_section.html", context)


@login_required
@require_GET
def limits_table(request, slug):
    membership = _viewer(request, slug)
    now = timezone.now()
    context = {**_base_context(membership, now), **_limits_context(request, membership, now)}
    return render(request, "console/_limits_table.html", context)


@login_required
@require_GET
def recent_changes(request, slug):
    membership = _viewer(request, slug)
    context = {**_base_context(membership, timezone.now()), **_changes_context(request, membership)}
    return render(request, "console/_recent_changes.html", context)


def _cap_modal(request, membership, *, scope, title, description, current, post_url, tier=None, member=None):
    """GET: the modal. POST: set the limit, or make it unlimited (for a member: remove their own limit, so
    they fall back to their tier and organization caps)."""
    organization = membership.organization
    form = CapForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        amount, now = form.cleaned_data["amount"], timezone.now()
        try:
            if amount is None and scope == CapScope.MEMBER:
                cap = member_own_cap(membership=member)
                if cap is not None:
                    cap_delete(cap=cap, actor=request.user, now=now)
            else:
                cap_set(organization=organization, scope=scope, amount=amount, actor=request.user, tier=tier,
                        membership=member, now=now)
        except ValidationError as error:
            _errors_into(form, error)
        else:
            message = _("%(title)s: %(amount)s") % {"title": title, "amount": money_format(amount)}
            return _done(request, reverse("console:usage_settings", kwargs={"slug": organization.slug}),
                         {"capsChanged": True, "auditChanged": True}, message)
    context = {"form": form, "title": title, "description": description, "current": current,
               "post_url": post_url, "scope": scope, "organization": organization, "max_amount": MAX_CAP_AMOUNT}
    return render(request, "console/_cap_modal.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def org_cap_edit(request, slug):
    membership = _editor(request, slug, Capability.MANAGE_CAPS)
    summary = org_cap_summary(organization=membership.organization, period_start=current_period(
        organization=membership.organization, now=timezone.now()).start)
    return _cap_modal(
        request, membership, scope=CapScope.ORGANIZATION, title=_("Organization spend limit"),
        description=_("The most the whole organization may spend on capped usage this month."),
        current=summary.limit, post_url=reverse("console:org_cap_edit", kwargs={"slug": slug}),
    )


@login_required
@require_http_methods(["GET", "POST"])
def tier_cap_edit(request, slug, tier_id):
    membership = _editor(request, slug, Capability.MANAGE_CAPS)
    organization = membership.organization
    if organization.plan_kind == PlanKind.TEAM:
        raise Http404("Seat-tier limits are not offered on Team plans.")
    tier = get_object_or_404(SeatTier, organization=organization, pk=tier_id)
    current = next((row.limit for row in tier_cap_rows(organization=organization) if row.tier.pk == tier.pk), None)
    return _cap_modal(
        request, membership, scope=CapScope.SEAT_TIER,
        title=_("%(tier)s seat limit") % {"tier": tier.get_code_display()},
        description=_("The most each member on a %(tier)s seat may spend this month.") % {
            "tier": tier.get_code_display()},
        current=current, tier=tier,
        post_url=reverse("console:tier_cap_edit", kwargs={"slug": slug, "tier_id": tier.pk}),
    )


@login_required
@require_http_methods(["GET", "POST"])
def member_cap_edit(request, slug, membership_id):
    membership = _editor(request, slug, Capability.MANAGE_CAPS)
    member = member_in_org(organization=membership.organization, membership_id=membership_id)
    if member is None:
        raise Http404
    cap = member_own_cap(membership=member)
    return _cap_modal(
        request, membership, scope=CapScope.MEMBER, title=_("Limit for %(name)s") % {"name": member.user.display_name},
        description=_("Unlimited removes this member's own limit; their seat tier and organization limits still "
                      "apply."),
        current=cap.amount if cap else None, member=member,
        post_url=reverse("console:member_cap_edit", kwargs={"slug": slug, "membership_id": member.pk}),
    )


# --- Members -----------------------------------------------------------------------------------------------


def _members_context(request, membership, now):
    organization = membership.organization
    period = current_period(organization=organization, now=now)
    search = request.GET.get("q", "")[:100]
    tiers = seat_tiers(organization=organization)
    page, rows = members_page(organization=organization, period_start=period.start, search=search,
                              page_number=request.GET.get("page", 1), tiers=tiers)
    return {
        "members_page": page, "member_rows": rows, "q": search, "tiers": tiers,
        "members_query": urlencode({k: v for k, v in (("q", search), ("page", page.number)) if v}),
        "can_manage": can(membership, Capability.MANAGE_MEMBERS),
    }


@login_required
@require_GET
def members(request, slug):
    """Members: role, seat tier (auto-saved; an upgrade asks to confirm its prorated charge), invite, remove."""
    membership = _viewer(request, slug)
    now = timezone.now()
    context = {**_base_context(membership, now), **_members_context(request, membership, now)}
    # Pending invitations, and those that expired in the last 30 days unanswered (they can be sent again).
    context["pending_invitations"] = list(
        membership.organization.invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True,
                                                   expires_at__gt=now - INVITATION_RESEND_WINDOW)
        .order_by("-created_at")[:20]
    )
    context["now"] = now
    context.update(_changes_context(request, membership))
    return render(request, "console/members.html", context)


@login_required
@require_GET
def members_table(request, slug):
    membership = _viewer(request, slug)
    now = timezone.now()
    context = {**_base_context(membership, now), **_members_context(request, membership, now)}
    return render(request, "console/_members_table.html", context)


def _member_row(request, membership, member, *, error="", saved=False):
    tiers = seat_tiers(organization=membership.organization)
    current = seat_current(membership=member)
    context = {"m": member, "tier": current.tier if current else None, "tiers": tiers, "error": error,
               "saved": saved, "can_manage": can(membership, Capability.MANAGE_MEMBERS), "membership": membership,
               "organization": membership.organization}
    return render(request, "console/_member_row.html", context)


@login_required
@require_POST
def member_seat(request, slug, membership_id):
    """Change a member's seat tier. A costlier tier first answers with the confirmation modal stating the
    prorated amount due now, a cheaper one with the modal stating what happens to the difference; with
    `confirm=yes` the change applies at once (seat_assign charges an upgrade)."""
    membership = _editor(request, slug, Capability.MANAGE_SEATS)
    organization = membership.organization
    member = member_in_org(organization=organization, membership_id=membership_id)
    if member is None:
        raise Http404
    tier = SeatTier.objects.filter(organization=organization, pk=request.POST.get("tier") or 0).first() \
        if str(request.POST.get("tier", "")).isdigit() else None
    if tier is None:
        response = _member_row(request, membership, member, error=_("Choose one of this plan's seat tiers."))
        response.status_code = 200 if _is_htmx(request) else 400
        return response
    now = timezone.now()
    current = seat_current(membership=member)
    if current is not None and current.tier_id == tier.pk:
        return _member_row(request, membership, member)
    proration = seat_change_proration(organization=organization, from_tier=current.tier if current else None,
                                      to_tier=tier, now=now, membership=member)
    # Any move to a tier with another price asks first, stating what is charged now or what happens to the
    # difference (the proration policy, docs/billing.md).
    if current is not None and proration.fee_difference != 0 and request.POST.get("confirm") != "yes":
        response = render(request, "console/_seat_confirm_modal.html", {
            "member": member, "from_tier": current.tier, "to_tier": tier, "proration": proration,
            "organization": organization,
            "post_url": reverse("console:member_seat", kwargs={"slug": slug, "membership_id": member.pk}),
        })
        response["HX-Retarget"] = "#modal-host"
        response["HX-Reswap"] = "innerHTML"
        return response
    seat_assign(membership=member, tier=tier, actor=request.user, now=now)
    if not _is_htmx(request):
        messages.success(request, _("%(name)s is now on %(tier)s.") % {"name": member.user.display_name,
                                                                       "tier": tier.get_code_display()})
        return redirect("console:members", slug=slug)
    response = _member_row(request, membership, member, saved=True)
    message = _("%(name)s moved to %(tier)s") % {"name": member.user.display_name, "tier": tier.get_code_display()}
    if current is not None and proration.amount > 0:
        message = _("%(name)s moved to %(tier)s; %(amount)s charged now") % {
            "name": member.user.display_name, "tier": tier.get_code_display(),
            "amount": money_format(proration.amount)}
    response["HX-Trigger-After-Swap"] = json.dumps({"closeModal": True, "auditChanged": True, "toast": message})
    return response


@login_required
@require_http_methods(["GET", "POST"])
def member_role(request, slug, membership_id):
    """Change a member's role (rules in organizations.services.membership_role_set)."""
    membership = _editor(request, slug, Capability.MANAGE_MEMBERS)
    member = member_in_org(organization=membership.organization, membership_id=membership_id)
    if member is None:
        raise Http404
    form = RoleForm(request.POST or None, initial={"role": member.role})
    if request.method == "POST" and form.is_valid():
        try:
            membership_role_set(membership=member, role=form.cleaned_data["role"], actor_membership=membership,
                                now=timezone.now())
        except ValidationError as error:
            _errors_into(form, error)
        else:
            return _done(request, reverse("console:members", kwargs={"slug": slug}),
                         {"membersChanged": True, "auditChanged": True},
                         _("%(name)s is now %(role)s") % {"name": member.user.display_name,
                                                           "role": Role(form.cleaned_data["role"]).label})
    choices = [Role.MEMBER, Role.ADMIN, Role.OWNER]
    if membership.role == Role.PRIMARY_OWNER:
        choices.append(Role.PRIMARY_OWNER)
    return render(request, "console/_role_modal.html", {
        "form": form, "member": member, "membership": membership, "organization": membership.organization,
        "choices": [(r.value, r.label) for r in choices],
        "post_url": reverse("console:member_role", kwargs={"slug": slug, "membership_id": member.pk}),
    })


@login_required
@require_http_methods(["GET", "POST"])
def member_remove_view(request, slug, membership_id):
    """Remove a member after confirming; their seat interval closes now."""
    membership = _editor(request, slug, Capability.MANAGE_MEMBERS)
    member = member_in_org(organization=membership.organization, membership_id=membership_id)
    if member is None:
        raise Http404
    error = ""
    if request.method == "POST":
        try:
            membership_remove(membership=member, actor_membership=membership, now=timezone.now())
        except ValidationError as exc:
            error = " ".join(translated_messages(exc))
        else:
            return _done(request, reverse("console:members", kwargs={"slug": slug}),
                         {"membersChanged": True, "auditChanged": True},
                         _("%(name)s was removed") % {"name": member.user.display_name})
    return render(request, "console/_remove_modal.html", {
        "member": member, "error": error, "organization": membership.organization,
        "post_url": reverse("console:member_remove", kwargs={"slug": slug, "membership_id": member.pk}),
    })


@login_required
@require_http_methods(["GET", "POST"])
def member_invite_view(request, slug):
    """Invite someone by email: they get a single-use link valid for 7 days."""
    membership = _editor(request, slug, Capability.MANAGE_MEMBERS)
    organization = membership.organization
    tiers = seat_tiers(organization=organization)
    form = InviteForm(request.POST or None, tiers=tiers)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = member_invite(
                organization=organization, email=form.cleaned_data["email"], role=form.cleaned_data["role"],
                seat_tier_code=form.cleaned_data["tier"], actor_membership=membership, now=timezone.now(),
            )
        except ValidationError as error:
            _errors_into(form, error)
        else:
            return _done(request, reverse("console:members", kwargs={"slug": slug}),
                         {"invitationsChanged": True, "auditChanged": True},
                         _("Invitation sent to %(email)s") % {"email": invitation.email})
    return render(request, "console/_invite_modal.html", {
        "form": form, "organization": organization, "membership": membership,
        "post_url": reverse("console:member_invite", kwargs={"slug": slug}),
    })


@login_required
@require_POST
def invitation_revoke_view(request, slug, invitation_id):
    """Withdraw a pending invitation (its link stops working)."""
    membership = _editor(request, slug, Capability.MANAGE_MEMBERS)
    invitation = get_object_or_404(Invitation, organization=membership.organization, pk=invitation_id)
    invitation_revoke(invitation=invitation, actor_membership=membership, now=timezone.now())
    messages.success(request, _("The invitation to %(email)s was withdrawn.") % {"email": invitation.email})
    return redirect("console:members", slug=slug)


@login_required
@require_POST
def invitation_resend_view(request, slug, invitation_id):
    """Send a pending or expired invitation again, with a new link (the old one stops working)."""
    membership = _editor(request, slug, Capability.MANAGE_MEMBERS)
    invitation = get_object_or_404(Invitation, organization=membership.organization, pk=invitation_id)
    try:
        member_invitation_resend(invitation=invitation, actor_membership=membership, now=timezone.now())
    except ValidationError as error:
        messages.error(request, " ".join(translated_messages(error)))
    else:
        messages.success(request, _("A new invitation was sent to %(email)s.") % {"email": invitation.email})
    return redirect("console:members", slug=slug)


# --- Accepting an invitation (no membership yet) ----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def invitation_accept(request, token):
    """The invitation link. A new address sets a name and password (the account is created); an existing user
    logs in as the invited address and accepts. Used, revoked or expired links say so (410); unknown ones 404."""
    invitation = invitation_for_token(raw_token=token)
    if invitation is None:
        raise Http404
    now = timezone.now()
    if not invitation.is_pending(now):
        return render(request, "console/invitation_invalid.html", {"invitation": invitation}, status=410)
    existing = User.objects.filter(email__iexact=invitation.email).exists()
    user = request.user if request.user.is_authenticated else None
    wrong_user = user is not None and user.email.lower() != invitation.email.lower()
    form = AcceptForm(request.POST or None) if not existing and user is None else None
    error = ""
    if request.method == "POST" and not wrong_user and (form is None or form.is_valid()):
        if existing and user is None:
            return redirect(f"{reverse('accounts:login')}?{urlencode({'next': request.path})}")
        try:
            membership = member_join(
                raw_token=token, user=user, name=form.cleaned_data["name"] if form else "",
                password=form.cleaned_data["password"] if form else "", now=now,
            )
        except ValidationError as exc:
            error = " ".join(translated_messages(exc))
        else:
            if user is None:
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome to %(organization)s.") % {
                "organization": membership.organization.name})
            return redirect("organizations:organization_home", slug=membership.organization.slug)
    return render(request, "console/invitation_accept.html", {
        "invitation": invitation, "form": form, "existing": existing, "wrong_user": wrong_user, "error": error,
        "login_url": f"{reverse('accounts:login')}?{urlencode({'next': request.path})}",
    })


# --- Settings > Language --------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def language_settings(request, slug):
    """The organization's default language and invoice language: owners change them (audited), admins read."""
    membership = _viewer(request, slug)
    organization = membership.organization
    can_edit = can(membership, Capability.MANAGE_BILLING)
    if request.method == "POST" and not can_edit:
        raise PermissionDenied
    form = LanguageSettingsForm(request.POST or None, initial={
        "default_language": organization.default_language, "invoice_language": organization.invoice_language})
    if request.method == "POST" and form.is_valid():
        try:
            organization_languages_set(organization=organization, actor=request.user, now=timezone.now(),
                                       **form.cleaned_data)
        except ValidationError as error:
            _errors_into(form, error)
        else:
            messages.success(request, _("Language settings saved."))
            return redirect("console:language_settings", slug=slug)
    return render(request, "console/language_settings.html", {
        "form": form, "membership": membership, "organization": organization, "can_edit": can_edit})
