"""Every URL pattern of the project, tried by every role of the owning organization, a user of another
organization and an anonymous visitor: the status each gets is written down in URLS below.

A pattern with no row FAILS `test_every_url_pattern_has_a_row`, naming it, so nothing new escapes this table.
When you add a URL:
  1. add a row to URLS keyed by its route name ("namespace:name"), one entry per method you want checked;
  2. if its route takes arguments other than `slug`, add a builder to KWARGS that creates (or picks) an object
     of the world's organization and returns the kwargs (see World for what exists).

Expected values: an int status, LOGIN (302 to the login page), ADMIN_LOGIN (302 to the admin login) or a
tuple of acceptable ints (e.g. (200, 400) for a form POST with no data). Session users never reach the machine
API: its rows expect 401 for everyone (API keys are tested in test_api_keys.py).
The whole /admin/ prefix is one entry, "admin", checked on /admin/ (staff only; no org role is staff).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apps.organizations.models import Membership, Organization, PlanKind, Role
from tests.factories import OrganizationFactory, UserFactory, login_verified, member

LOGIN = "login"
ADMIN_LOGIN = "admin_login"
ROLES = ("primary_owner", "owner", "admin", "member", "outsider", "anonymous")


def expect(*, primary_owner, owner, admin, member, outsider, anonymous) -> dict:
    return {"primary_owner": primary_owner, "owner": owner, "admin": admin, "member": member,
            "outsider": outsider, "anonymous": anonymous}


def everyone(status) -> dict:
    return dict.fromkeys(ROLES, status)


def org_page(minimum: str = "member", *, lacking=403, allowed=200) -> dict:
    """An organization page: roles from `minimum` up get `allowed`, lower roles `lacking`, outsiders 404 (the
    organization's existence is not revealed), anonymous visitors the login page."""
    ranks = ["member", "admin", "owner", "primary_owner"]
    floor = ranks.index(minimum)
    row = {role: (allowed if ranks.index(role) >= floor else lacking) for role in ranks}
    return {**row, "outsider": 404, "anonymous": LOGIN}


def org_page_hidden_login(minimum: str = "member", *, lacking=403, allowed=200) -> dict:
    """Like org_page, for views that answer anonymous visitors with a 404 instead of the login page."""
    return {**org_page(minimum, lacking=lacking, allowed=allowed), "anonymous": 404}


API_NO_SESSION = everyone(401)

# (method, expected per role). Keep rows grouped by app, in URL order.
URLS: dict[str, list[tuple[str, dict]]] = {
    # Django admin: staff only (no organization role is staff).
    "admin": [("GET", everyone(ADMIN_LOGIN))],
    # Operations (apps/ops): probes for anyone; /metrics for loopback callers (the test client) or METRICS_TOKEN.
    "ops:health_live": [("GET", everyone(200))],
    "ops:health_ready": [("GET", everyone(200))],
    "ops:metrics": [("GET", everyone(200)), ("POST", everyone(405))],
    # Machine API (bearer keys only; a session is not a key).
    "machine_api:openapi-json": [("GET", everyone(200))],
    # API docs (issue 24): public pages, served from our own static files.
    "api_docs_machine": [("GET", everyone(200)), ("POST", everyone(405))],
    "api_docs_admin": [("GET", everyone(200))],
    "api_docs_webhooks": [("GET", everyone(200))],
    "api_docs_webhooks_schema": [("GET", everyone(200))],
    "machine_api:api-root": [("GET", everyone(404))],
    "machine_api:admission": [("POST", API_NO_SESSION), ("GET", everyone(405))],
    "machine_api:usage": [("POST", API_NO_SESSION), ("GET", everyone(405))],
    "machine_api:usage_batch": [("POST", API_NO_SESSION), ("GET", everyone(405))],
    # Accounts.
    "accounts:login": [("GET", {**everyone(302), "anonymous": 200}), ("POST", {**everyone(302), "anonymous": 200})],
    "accounts:logout": [("GET", everyone(405)), ("POST", everyone(302))],
    # The header's language picker: anyone (a visitor's choice is kept in the language cookie).
    "accounts:language_set": [("GET", everyone(405)), ("POST", everyone(302))],
    # Organizations.
    "organizations:home": [("GET", {**everyone(302), "anonymous": LOGIN})],
    # Owners and admins are sent to Settings > Usage, members to their own usage page (200 while neither
    # app is installed).
    "organizations:organization_home": [("GET", org_page("member", allowed=(200, 302)))],
    # Monitoring: dashboards for admins and up (members get a 404), thresholds for owners, everyone's own page.
    "monitoring:dashboard": [("GET", org_page("admin", lacking=404))],
    "monitoring:dashboard_tiers": [("GET", org_page("admin", lacking=404))],
    "monitoring:dashboard_members": [("GET", org_page("admin", lacking=404))],
    "monitoring:member_detail": [("GET", org_page("admin", lacking=404))],
    "monitoring:notification_settings": [("GET", org_page("owner", lacking=404)),
                                         ("POST", org_page("owner", lacking=404, allowed=400))],
    "monitoring:my_usage": [("GET", org_page("member"))],
    "monitoring:usage_export": [("GET", org_page("admin", lacking=404))],
    # Console: Settings > Usage and Members are for admins and up (members get a 404); admins read, and get a
    # 403 on every write or edit modal. POSTs carry no data, so owners get the form back with its errors (200),
    # or 400 for a seat change without a tier. This world is on a Team plan: tier caps are a 404 there.
    "console:usage_settings": [("GET", org_page("admin", lacking=404))],
    "console:org_cap_section": [("GET", org_page("admin", lacking=404))],
    "console:org_cap_edit": [("GET", {**org_page("owner", lacking=404), "admin": 403}),
                             ("POST", {**org_page("owner", lacking=404), "admin": 403})],
    "console:tier_caps_section": [("GET", org_page("admin", lacking=404))],
    "console:tier_cap_edit": [("GET", {**org_page("owner", lacking=404, allowed=404), "admin": 403}),
                              ("POST", {**org_page("owner", lacking=404, allowed=404), "admin": 403})],
    "console:limits_table": [("GET", org_page("admin", lacking=404))],
    "console:member_cap_edit": [("GET", {**org_page("owner", lacking=404), "admin": 403}),
                                ("POST", {**org_page("owner", lacking=404), "admin": 403})],
    "console:recent_changes": [("GET", org_page("admin", lacking=404))],
    # The guided set-up after "Enable": owners only (admins 403). The first URL and "done" redirect to a step or
    # to Settings > Usage; an empty POST to the pay step is a form error (400).
    "console:extra_usage_setup": [("GET", {**org_page("owner", lacking=404, allowed=302), "admin": 403})],
    "console:extra_usage_setup_finish": [("GET", {**org_page("owner", lacking=404, allowed=302), "admin": 403})],
    "console:extra_usage_setup_step": [("GET", {**org_page("owner", lacking=404), "admin": 403}),
                                       ("POST", {**org_page("owner", lacking=404, allowed=400), "admin": 403})],
    # The audit log records identity, webhook and key settings: owners only (issue 26).
    "console:audit_log": [("GET", org_page("owner", lacking=404))],
    "console:audit_log_export": [("GET", org_page("owner", lacking=404))],
    "console:prices": [("GET", org_page("admin", lacking=404))],
    "console:members": [("GET", org_page("admin", lacking=404))],
    "console:members_table": [("GET", org_page("admin", lacking=404))],
    "console:member_invite": [("GET", {**org_page("owner", lacking=404), "admin": 403}),
                              ("POST", {**org_page("owner", lacking=404), "admin": 403})],
    "console:member_seat": [("GET", {**everyone(405), "anonymous": LOGIN}),
                            ("POST", {**org_page("owner", lacking=404, allowed=400), "admin": 403})],
    "console:member_role": [("GET", {**org_page("owner", lacking=404), "admin": 403}),
                            ("POST", {**org_page("owner", lacking=404), "admin": 403})],
    "console:member_remove": [("GET", {**org_page("owner", lacking=404), "admin": 403})],
    "console:invitation_revoke": [("GET", {**everyone(405), "anonymous": LOGIN}),
                                  ("POST", {**org_page("owner", lacking=404, allowed=302), "admin": 403})],
    "console:invitation_resend": [("GET", {**everyone(405), "anonymous": LOGIN}),
                                  ("POST", {**org_page("owner", lacking=404, allowed=302), "admin": 403})],
    # The invitation link works without a login: the form to join (a logged-in user is told whom it is for).
    "console:invitation_accept": [("GET", everyone(200))],
    # Settings > Language: admins read, owners change (an empty POST re-renders the form).
    "console:language_settings": [("GET", org_page("admin", lacking=404)),
                                  ("POST", {**org_page("owner", lacking=404), "admin": 403})],
    # Billing history and receipts: owners and admins read them (admins read the invoices too); members 404.
    "console:billing_history": [("GET", org_page("admin", lacking=404)),
                                ("POST", {**everyone(405), "anonymous": LOGIN})],
    "console:billing_receipt": [("GET", org_page("admin", lacking=404))],
    # Invoicing: owners and admins (read-only) see invoices and download them; members get a 404.
    "invoicing:invoice_list": [("GET", org_page("admin", lacking=404)),
                               ("POST", {**everyone(405), "anonymous": LOGIN})],
    "invoicing:invoice_detail": [("GET", org_page("admin", lacking=404))],
    "invoicing:invoice_csv": [("GET", org_page("admin", lacking=404))],
    "invoicing:invoice_pdf": [("GET", org_page("admin", lacking=404))],
    # Issue 23: owners pay an invoice by card (back to the invoice with a message), admins read (403); credit notes
    # are read like invoices.
    "invoicing:invoice_pay": [("GET", {**everyone(405), "anonymous": LOGIN}),
                              ("POST", {**org_page("owner", lacking=404, allowed=302), "admin": 403})],
    "invoicing:credit_note_detail": [("GET", org_page("admin", lacking=404))],
    "invoicing:credit_note_pdf": [("GET", org_page("admin", lacking=404))],
    # Billing details: owners edit (an empty form is valid: every field is optional), admins read.
    "invoicing:billing_details": [("GET", org_page("admin", lacking=404)),
                                  ("POST", {**org_page("owner", lacking=404, allowed=302), "admin": 403})],
    # Notices: each signed-in user's own preferences; the one-click unsubscribe link needs no login (signed).
    "notices:preferences": [("GET", {**everyone(200), "anonymous": LOGIN}),
                            ("POST", {**everyone(302), "anonymous": LOGIN})],
    "notices:unsubscribe": [("GET", everyone(200)), ("POST", everyone(200))],
    # Extra usage: owners edit (admins and members 403), admins and up review requests, every member asks for
    # themself. Form POSTs redirect back with a message (302), also when the Team plan refuses the change
    # (requests are an Enterprise feature); the prepaid modals are Team-only and re-render an empty form (200).
    "extra_usage:settings": [("GET", org_page("admin"))],
    "extra_usage:switch": [("POST", org_page("owner", allowed=302))],
    "extra_usage:members_mode": [("POST", org_page("owner", allowed=302))],
    "extra_usage:member_switch": [("POST", org_page("owner", allowed=302))],
    "extra_usage:requests_switch": [("POST", org_page("owner", allowed=302))],
    "extra_usage:purchase": [("GET", org_page("owner")), ("POST", org_page("owner"))],
    "extra_usage:auto_reload": [("GET", org_page("owner")), ("POST", org_page("owner", allowed=302))],
    "extra_usage:review": [("GET", org_page("admin", allowed=302))],
    "extra_usage:review_modal": [("GET", org_page("admin"))],
    "extra_usage:approve": [("POST", org_page("admin", allowed=302))],
    "extra_usage:deny": [("POST", org_page("admin", allowed=302))],
    "extra_usage:my": [("GET", org_page("member"))],
    "extra_usage:request_create": [("POST", org_page("member", allowed=302))],
    # Admin API keys page: the primary owner only (other roles 403). The world is on a Team plan, so creating a
    # key is refused (400); revoking asks on its own page, then redirects.
    "admin_api:keys": [("GET", org_page("primary_owner")), ("POST", org_page("primary_owner", allowed=400))],
    "admin_api:revoke": [("GET", org_page("primary_owner")), ("POST", org_page("primary_owner", allowed=302))],
    # Spend Limits Admin API (Admin API keys only; a session is not a key). Wrong methods are 405 before auth;
    # unknown paths under /v1/organizations/ are JSON 404s.
    "admin_api_v1:openapi": [("GET", everyone(200))],
    "admin_api_v1:effective": [("GET", API_NO_SESSION), ("POST", everyone(405))],
    "admin_api_v1:spend_limits": [("GET", API_NO_SESSION), ("POST", API_NO_SESSION)],
    "admin_api_v1:spend_limit": [("GET", API_NO_SESSION), ("DELETE", API_NO_SESSION)],
    "admin_api_v1:increase_requests": [("GET", API_NO_SESSION)],
    "admin_api_v1:increase_request": [("GET", API_NO_SESSION)],
    "admin_api_v1:increase_request_approve": [("POST", API_NO_SESSION), ("GET", everyone(405))],
    "admin_api_v1:increase_request_deny": [("POST", API_NO_SESSION)],
    "admin_api_v1:unknown": [("GET", everyone(404))],
    # Webhook endpoints through the Admin API (issue 24).
    "admin_api_v1:webhooks": [("GET", API_NO_SESSION), ("POST", API_NO_SESSION), ("PUT", everyone(405))],
    "admin_api_v1:webhook": [("GET", API_NO_SESSION), ("POST", API_NO_SESSION), ("DELETE", API_NO_SESSION)],
    "admin_api_v1:webhook_regenerate_secret": [("POST", API_NO_SESSION), ("GET", everyone(405))],
    "admin_api_v1:analytics_cost": [("GET", API_NO_SESSION), ("POST", everyone(405))],
    "admin_api_v1:analytics_usage": [("GET", API_NO_SESSION)],
    "admin_api_v1:analytics_cost_report": [("GET", API_NO_SESSION)],
    "admin_api_v1:analytics_usage_report": [("GET", API_NO_SESSION)],
    "admin_api_v1:analytics_user_cost_report": [("GET", API_NO_SESSION)],
    "admin_api_v1:analytics_user_usage_report": [("GET", API_NO_SESSION)],
    # Settings > Webhooks: owners only (admins and members 404). Empty POSTs re-render the form (400); actions
    # redirect with a message. The primary owner deletes the endpoint first, so the owner then finds none (404).
    "webhooks:endpoints": [("GET", org_page("owner", lacking=404)),
                           ("POST", org_page("owner", lacking=404, allowed=400))],
    "webhooks:endpoint_detail": [("GET", org_page("owner", lacking=404)),
                                 ("POST", org_page("owner", lacking=404, allowed=400))],
    "webhooks:endpoint_rotate": [("GET", {**everyone(405), "anonymous": LOGIN}),
                                 ("POST", org_page("owner", lacking=404))],
    "webhooks:endpoint_delete": [("GET", org_page("owner", lacking=404)),
                                 ("POST", {**org_page("owner", lacking=404, allowed=302), "owner": 404})],
    "webhooks:endpoint_test": [("GET", {**everyone(405), "anonymous": LOGIN}),
                               ("POST", org_page("owner", lacking=404, allowed=302))],
    "webhooks:delivery_detail": [("GET", org_page("owner", lacking=404))],
    "webhooks:delivery_replay": [("GET", {**everyone(405), "anonymous": LOGIN}),
                                 ("POST", org_page("owner", lacking=404, allowed=302))],
    # Stripe: its webhook takes no session and refuses an unsigned body (400); saving a card is for owners (the
    # world uses the recording provider, so owners are sent back with a message).
    "stripe_webhook": [("POST", everyone(400)), ("GET", everyone(405))],
    "stripe_card_setup": [("GET", {**everyone(405), "anonymous": LOGIN}),
                          ("POST", org_page("owner", allowed=302))],
}


@dataclass
class World:
    """One organization with a user per role, plus an outsider who belongs to another organization."""

    org: Organization
    other_org: Organization
    memberships: dict[str, Membership]
    outsider: Membership
    cache: dict = field(default_factory=dict)

    def once(self, name: str, make: Callable):
        """An object built the first time a row asks for it (rows share it)."""
        if name not in self.cache:
            self.cache[name] = make()
        return self.cache[name]


# Builders of URL kwargs for routes with arguments other than `slug`: name -> fn(world) -> kwargs.
KWARGS: dict[str, Callable[[World], dict]] = {}
KWARGS["monitoring:member_detail"] = lambda w: {"slug": w.org.slug, "membership_id": w.memberships["member"].pk}
for _name in ("console:member_cap_edit", "console:member_seat", "console:member_role", "console:member_remove"):
    KWARGS[_name] = lambda w: {"slug": w.org.slug, "membership_id": w.memberships["member"].pk}
KWARGS["console:extra_usage_setup_step"] = lambda w: {"slug": w.org.slug, "step": "pay"}
KWARGS["console:tier_cap_edit"] = lambda w: {"slug": w.org.slug, "tier_id": w.org.seat_tiers.first().pk}
KWARGS["extra_usage:member_switch"] = lambda w: {"slug": w.org.slug, "membership_id": w.memberships["member"].pk}


def _extra_usage_request_kwargs(w: World) -> dict:
    from django.utils import timezone

    from apps.extra_usage.models import ExtraUsageRequest

    request = w.once("extra_usage_request", lambda: ExtraUsageRequest.objects.create(
        organization=w.org, membership=w.memberships["member"], period_start=timezone.now().date().replace(day=1),
        created_at=timezone.now()))
    return {"slug": w.org.slug, "public_id": request.public_id}


for _name in ("extra_usage:approve", "extra_usage:deny"):
    KWARGS[_name] = _extra_usage_request_kwargs


def _invitation_kwargs(w: World) -> dict:
    from django.utils import timezone

    from apps.organizations.services import invitation_create

    _, token = w.once("invitation", lambda: invitation_create(
        organization=w.org, email="invitee@acme.example", actor_membership=w.memberships["primary_owner"],
        now=timezone.now()))
    return {"token": token}


KWARGS["console:invitation_accept"] = _invitation_kwargs


def _invitation_id_kwargs(w: World) -> dict:
    from apps.organizations.models import Invitation
    from apps.organizations.services import invitation_token_digest

    digest = invitation_token_digest(_invitation_kwargs(w)["token"])
    return {"slug": w.org.slug, "invitation_id": Invitation.objects.get(token_digest=digest).pk}


KWARGS["console:invitation_revoke"] = _invitation_id_kwargs
KWARGS["console:invitation_resend"] = _invitation_id_kwargs


def _invoice_kwargs(w: World) -> dict:
    import datetime as dt

    from apps.invoicing.services import invoice_issue_for_period

    invoice = w.once("invoice", lambda: invoice_issue_for_period(
        organization=w.org, period_start=dt.date(2026, 10, 1), now=dt.datetime(2026, 11, 1, 1, tzinfo=dt.UTC)))
    return {"slug": w.org.slug, "number": invoice.number}


for _name in ("invoicing:invoice_detail", "invoicing:invoice_csv", "invoicing:invoice_pdf", "invoicing:invoice_pay"):
    KWARGS[_name] = _invoice_kwargs


def _credit_note_kwargs(w: World) -> dict:
    from decimal import Decimal

    from django.utils import timezone

    from apps.invoicing.models import CreditNote, Invoice

    invoice = Invoice.objects.get(organization=w.org, number=_invoice_kwargs(w)["number"])
    note = w.once("credit_note", lambda: CreditNote.objects.create(
        organization=w.org, invoice=invoice, number=f"{w.org.slug.upper()}-CN-0001", sequence=1,
        issue_date=invoice.due_date, issued_at=timezone.now(), reason="Correction", subtotal=Decimal("1.00"),
        total=Decimal("1.00")))
    return {"slug": w.org.slug, "number": note.number}


for _name in ("invoicing:credit_note_detail", "invoicing:credit_note_pdf"):
    KWARGS[_name] = _credit_note_kwargs

def _receipt_kwargs(w: World) -> dict:
    from django.utils import timezone

    from apps.seats.models import SeatTier
    from apps.seats.services import seat_assign

    def upgrade():
        membership = w.memberships["member"]
        tiers = list(SeatTier.objects.filter(organization=w.org).order_by("monthly_fee"))
        seat_assign(membership=membership, tier=tiers[0], now=timezone.now())
        seat_assign(membership=membership, tier=tiers[-1], now=timezone.now())
        return membership.seat_charges.get()

    return {"slug": w.org.slug, "kind": "seat", "charge_id": w.once("seat_charge", upgrade).pk}


KWARGS["console:billing_receipt"] = _receipt_kwargs


def _unsubscribe_kwargs(w: World) -> dict:
    from apps.notices.services import unsubscribe_token

    return {"token": unsubscribe_token(email="someone@example.com", organization_id=w.org.pk, kind="spend_org_cap")}


KWARGS["notices:unsubscribe"] = _unsubscribe_kwargs


def _admin_api_key_kwargs(w: World) -> dict:
    from django.utils import timezone

    from apps.admin_api.models import AdminApiKey

    key = w.once("admin_api_key", lambda: AdminApiKey.objects.create(
        organization=w.org, name="automation", prefix="sk-ant-admin01-abc", digest="0" * 64,
        scopes=["read:spend_limits"], created_at=timezone.now()))
    return {"slug": w.org.slug, "public_id": key.public_id}


KWARGS["admin_api:revoke"] = _admin_api_key_kwargs
KWARGS["admin_api_v1:spend_limit"] = lambda w: {"spend_limit_id": "spl_unknown"}
for _name in ("admin_api_v1:increase_request", "admin_api_v1:increase_request_approve",
              "admin_api_v1:increase_request_deny"):
    KWARGS[_name] = lambda w: {"request_id": "slir_unknown"}
for _name in ("admin_api_v1:webhook", "admin_api_v1:webhook_regenerate_secret"):
    KWARGS[_name] = lambda w: {"webhook_endpoint_id": "ep_unknown"}


def _webhook_endpoint_kwargs(w: World) -> dict:
    from django.utils import timezone

    from apps.webhooks.services import endpoint_create

    endpoint, _ = w.once("webhook_endpoint", lambda: endpoint_create(
        organization=w.org, url="https://93.184.215.14/hooks", events=["invoice.paid"], now=timezone.now()))
    return {"slug": w.org.slug, "public_id": endpoint.public_id}


def _webhook_delivery_kwargs(w: World) -> dict:
    from apps.webhooks.services import webhook_event_emit

    kwargs = _webhook_endpoint_kwargs(w)
    event = w.once("webhook_event", lambda: webhook_event_emit(organization=w.org, event_type="invoice.paid",
                                                                payload={}))
    return {**kwargs, "delivery_id": event.deliveries.get().pk}


for _name in ("webhooks:endpoint_detail", "webhooks:endpoint_rotate", "webhooks:endpoint_delete",
              "webhooks:endpoint_test"):
    KWARGS[_name] = _webhook_endpoint_kwargs
for _name in ("webhooks:delivery_detail", "webhooks:delivery_replay"):
    KWARGS[_name] = _webhook_delivery_kwargs


# Identity (issue 17): sign-in pages, the owners' Security & SSO page, the SSO entry and allauth's OIDC login and
# callback (404 while the organization has no provider), and SCIM (bearer tokens only: a session gets 401).
_SIGNED_IN = {**everyone(200), "anonymous": LOGIN}


def _PRIMARY_OWNER_ONLY(allowed) -> dict:  # noqa: N802 (reads as a constant in the table)
    return {**org_page_hidden_login("primary_owner", lacking=404, allowed=allowed), "owner": 403}


URLS.update({
    "accounts:login_verify": [("GET", everyone(302)), ("POST", everyone(302))],
    "accounts:password_reset": [("GET", everyone(200)), ("POST", everyone(200))],
    "accounts:password_reset_done": [("GET", everyone(200))],
    "accounts:password_reset_confirm": [("GET", everyone(200))],
    "accounts:password_reset_complete": [("GET", everyone(200))],
    "accounts:password_change": [("GET", _SIGNED_IN), ("POST", _SIGNED_IN)],
    "accounts:password_change_done": [("GET", _SIGNED_IN)],
    "accounts:security": [("GET", _SIGNED_IN)],
    "accounts:two_factor_setup": [("GET", _SIGNED_IN), ("POST", _SIGNED_IN)],
    "accounts:recovery_codes": [("GET", {**everyone(302), "anonymous": LOGIN}),
                                ("POST", {**everyone(302), "anonymous": LOGIN})],
    "accounts:two_factor_disable": [("GET", {**everyone(405), "anonymous": LOGIN}),
                                    ("POST", {**everyone(302), "anonymous": LOGIN})],
    "identity:settings": [("GET", org_page("owner", lacking=404))],
    "identity:two_factor": [("GET", everyone(405)), ("POST", org_page_hidden_login("owner", lacking=404, allowed=302))],
    # Owners read Security & SSO; only the primary owner changes the provider, domains and SCIM tokens (issue 26):
    # another owner gets a 403. Empty POSTs: the SSO form saves (302), a claim without a domain is a 400.
    "identity:sso": [("GET", everyone(405)), ("POST", _PRIMARY_OWNER_ONLY(302))],
    "identity:domain_claim": [("GET", everyone(405)), ("POST", _PRIMARY_OWNER_ONLY(400))],
    "identity:domain_verify": [("GET", everyone(405)), ("POST", _PRIMARY_OWNER_ONLY(302))],
    "identity:domain_remove": [("GET", everyone(405)), ("POST", _PRIMARY_OWNER_ONLY(302))],
    "identity:scim_token_create": [("GET", everyone(405)), ("POST", _PRIMARY_OWNER_ONLY(200))],
    "identity:scim_token_revoke": [("GET", everyone(405)), ("POST", _PRIMARY_OWNER_ONLY(302))],
    "identity:sso_start": [("GET", everyone(405)), ("POST", everyone(400))],
    "openid_connect_login": [("GET", everyone(404)), ("POST", everyone(404))],
    "openid_connect_callback": [("GET", everyone(404))],
    **{f"scim:{name}": [("GET", everyone(401))] for name in (
        "service_provider_config", "resource_types", "resource_type", "schemas", "schema", "user", "group",
        "not_found")},
    **{f"scim:{name}": [("GET", everyone(401)), ("POST", everyone(401))] for name in ("users", "groups")},
    **{f"scim:{name}": [("POST", everyone(401))] for name in ("search", "users_search", "groups_search")},
})
KWARGS["accounts:password_reset_confirm"] = lambda w: {"uidb64": "MQ", "token": "not-a-token"}
KWARGS["openid_connect_login"] = KWARGS["openid_connect_callback"] = lambda w: {"provider_id": f"org-{w.org.slug}"}
KWARGS["scim:resource_type"] = lambda w: {"name": "User"}
KWARGS["scim:schema"] = lambda w: {"schema_id": "urn:ietf:params:scim:schemas:core:2.0:User"}
KWARGS["scim:user"] = lambda w: {"user_id": w.memberships["member"].user.public_id}
KWARGS["scim:group"] = lambda w: {"group_id": "grp_unknown"}
KWARGS["scim:not_found"] = lambda w: {"rest": "Unknown"}


def _scim_token_kwargs(w: World) -> dict:
    from apps.identity.services import scim_token_create

    token, _raw = w.once("scim_token", lambda: scim_token_create(organization=w.org, name="idp"))
    return {"slug": w.org.slug, "public_id": token.public_id}


KWARGS["identity:scim_token_revoke"] = _scim_token_kwargs


def _domain_kwargs(w: World) -> dict:
    # Verified already, so "Verify" answers without a DNS lookup (the DNS path: tests/identity, tests/security).
    from apps.identity.models import SsoDomain
    from apps.identity.services import sso_domain_mark_verified

    w.once("domain", lambda: sso_domain_mark_verified(organization=w.org, domain=f"{w.org.slug}.example",
                                                      actor_label="test"))
    return {"slug": w.org.slug, "domain_id": SsoDomain.objects.get(organization=w.org).pk}


KWARGS["identity:domain_verify"] = KWARGS["identity:domain_remove"] = _domain_kwargs


def _walk(patterns, prefix="", namespace=None):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = namespace
            if p.namespace:
                ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            name = f"{namespace}:{p.name}" if namespace and p.name else p.name
            yield prefix + str(p.pattern), name


def project_patterns() -> dict[str, str]:
    """Route name -> route, for every pattern; the admin site collapses to one "admin" entry."""
    found: dict[str, str] = {}
    for route, name in _walk(get_resolver().url_patterns):
        if route.startswith("admin/"):
            found["admin"] = "admin/"
            continue
        found[name or f"<unnamed {route}>"] = route
    return found


def test_every_url_pattern_has_a_row():
    missing = sorted(f"{name} ({route})" for name, route in project_patterns().items() if name not in URLS)
    assert not missing, "URL patterns without a row in tests/hardening/test_url_access.py URLS: " + ", ".join(missing)


def test_no_row_names_a_pattern_that_does_not_exist():
    stale = sorted(set(URLS) - set(project_patterns()))
    assert not stale, f"rows for URL names that no longer exist: {stale}"


def test_every_row_names_all_six_roles():
    for name, checks in URLS.items():
        for method, row in checks:
            assert set(row) == set(ROLES), f"{name} {method}: roles {sorted(set(ROLES) ^ set(row))}"


def _world(plan_kind: str) -> World:
    org = OrganizationFactory(plan_kind=plan_kind, slug="acme")
    other = OrganizationFactory(plan_kind=plan_kind, slug="globex")
    memberships = {
        role: member(org, email=f"{role}@acme.example", role=role)
        for role in (Role.PRIMARY_OWNER, Role.OWNER, Role.ADMIN, Role.MEMBER)
    }
    outsider = member(other, email="owner@globex.example", role=Role.PRIMARY_OWNER)
    return World(org=org, other_org=other, memberships={str(k): v for k, v in memberships.items()},
                 outsider=outsider)


def _kwargs(name: str, world: World) -> dict:
    if name in KWARGS:
        return KWARGS[name](world)
    route = project_patterns()[name]
    kwargs = {}
    if "<slug:slug>" in route or "<str:slug>" in route:
        kwargs["slug"] = world.org.slug
    leftover = route.replace("<slug:slug>", "").replace("<str:slug>", "")
    assert "<" not in leftover, f"{name} ({route}) takes arguments: add a builder to KWARGS"
    return kwargs


def _url(name: str, world: World) -> str:
    return "/admin/" if name == "admin" else reverse(name, kwargs=_kwargs(name, world))


def _client(role: str, world: World) -> Client:
    client = Client()
    if role == "anonymous":
        return client
    membership = world.outsider if role == "outsider" else world.memberships[role]
    client.force_login(membership.user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _matches(response, expected) -> bool:
    if expected == LOGIN:
        return response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    if expected == ADMIN_LOGIN:
        return response.status_code == 302 and response["Location"].startswith("/admin/login/")
    if isinstance(expected, tuple):
        return response.status_code in expected
    return response.status_code == expected


CASES = [(name, method) for name, checks in URLS.items() for method, _ in checks]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method"), CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_each_role_gets_the_expected_status(name, method):
    world = _world(PlanKind.TEAM)
    row = dict(URLS[name])[method]
    url = _url(name, world)
    wrong = []
    for role in ROLES:
        response = _client(role, world).generic(method, url)
        if not _matches(response, row[role]):
            where = f" -> {response['Location']}" if response.status_code in (301, 302) else ""
            wrong.append(f"{role}: expected {row[role]}, got {response.status_code}{where}")
    assert not wrong, f"{method} {url} ({name}): " + "; ".join(wrong)


@pytest.mark.django_db
def test_staff_reach_the_admin_and_outsiders_never_see_another_orgs_page():
    world = _world(PlanKind.TEAM)
    staff = UserFactory(email="staff@billing-portal.example", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")
    # Password alone (no second factor in this session): the admin sends staff to the two-factor step first.
    assert client.get("/admin/login/")["Location"].startswith(reverse("accounts:two_factor_setup"))
    assert login_verified(client, staff).get("/admin/").status_code == 200
    # The outsider is primary owner of their own organization, yet gets a 404 for this one.
    outsider = _client("outsider", world)
    assert outsider.get(reverse("organizations:organization_home", kwargs={"slug": "acme"})).status_code == 404
    assert outsider.get(reverse("organizations:organization_home", kwargs={"slug": "globex"})).status_code in (200,
                                                                                                            302)


# --- Another organization's objects -------------------------------------------------------------------------
# Routes that take an object id under an organization's slug: the id of another organization's object, put
# under one's own slug, must be a 404 even for the primary owner (no object is reachable by guessing ids).
# The set-up's step names a step of a flow, not an object.
NOT_OBJECT_ROUTES = {"console:extra_usage_setup_step"}
ID_ROUTES = [name for name in URLS if name in KWARGS and "<slug:slug>" in project_patterns().get(name, "")
             and name not in NOT_OBJECT_ROUTES]


def _mirror(world: World) -> World:
    """The same cast of roles in the other organization (its primary owner is the world's outsider)."""
    memberships = {"primary_owner": world.outsider}
    for role in (Role.OWNER, Role.ADMIN, Role.MEMBER):
        memberships[str(role)] = member(world.other_org, email=f"{role}.mirror@globex.example", role=role)
    return World(org=world.other_org, other_org=world.org, memberships=memberships,
                 outsider=world.memberships["primary_owner"])


@pytest.mark.django_db
@pytest.mark.parametrize("name", ID_ROUTES)
def test_another_orgs_object_under_ones_own_slug_is_a_404(name):
    world = _world(PlanKind.TEAM)
    kwargs = {**KWARGS[name](_mirror(world)), "slug": world.org.slug}
    url = reverse(name, kwargs=kwargs)
    owner = _client("primary_owner", world)
    wrong = []
    for method, row in URLS[name]:
        expected = 405 if row["primary_owner"] == 405 else 404
        response = owner.generic(method, url)
        if response.status_code != expected:
            wrong.append(f"{method}: expected {expected}, got {response.status_code}")
    assert not wrong, f"{url} ({name}) with globex's object under acme's slug: " + "; ".join(wrong)
