"""Django admin: every registered model lists (with search and filters) for staff; the ledger is read-only;
machine keys are created with the raw key shown once and revoked with an action; price edits apply at once."""

import re
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.organizations.models import ApiKey, AuditEntry, PlanKind
from apps.usage.models import AIModel, MemberPeriodUsage, ModelPrice, OrgUsageSlot, UsageDailyRollup, UsageEvent
from apps.usage.pricing import Tokens, price_lookup, quote
from tests.conftest import ApiClient
from tests.factories import OrganizationFactory, api_key, login_verified, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = User.objects.create_superuser("staff@example.com", "demo-password")
    return login_verified(client, user)


@pytest.fixture
def ledger():
    """Some rows in every table, so changelists render real values."""
    org = OrganizationFactory(plan_kind=PlanKind.TEAM, name="Acme")
    member(org, email="dev@acme.example", tier_code="standard")
    client = ApiClient(api_key(org))
    for n in range(3):
        response = client.post("/usage", {"idempotency_key": f"k{n}", "member": "dev@acme.example",
                                          "product": "chat", "model": "claude-sonnet-4-5",
                                          "usage": {"input_tokens": 1000, "output_tokens": 10}})
        assert response.status_code == 201
    return org


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def test_every_registered_model_lists_searches_and_filters_for_staff(staff, ledger):
    for model, model_admin in admin.site._registry.items():
        url = changelist(model)
        assert staff.get(url).status_code == 200, url
        if model_admin.search_fields:
            assert staff.get(url, {"q": "acme"}).status_code == 200, url
    for model in (ApiKey, AuditEntry, UsageEvent, MemberPeriodUsage, OrgUsageSlot, UsageDailyRollup, ModelPrice):
        model_admin = admin.site._registry[model]
        assert model_admin.list_filter and model_admin.search_fields and model_admin.list_display, model


def test_changelists_of_our_apps_have_search_and_filters():
    ours = [m for m in admin.site._registry if m._meta.app_label in ("accounts", "organizations", "seats", "usage")]
    assert len(ours) >= 14
    for model in ours:
        model_admin = admin.site._registry[model]
        assert model_admin.search_fields, model
        assert model_admin.list_filter, model


@pytest.mark.parametrize("model", [UsageEvent, MemberPeriodUsage, OrgUsageSlot, UsageDailyRollup, AuditEntry])
def test_ledger_and_audit_are_read_only(staff, ledger, model):
    opts = model._meta
    assert staff.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add")).status_code == 403
    row = model.objects.first()
    change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
    assert staff.get(change).status_code == 200  # viewable
    assert staff.post(change, {}).status_code == 403
    delete = reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[row.pk])
    assert staff.post(delete, {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=row.pk).exists()


def test_creating_a_key_in_admin_shows_the_raw_key_once(staff):
    org = OrganizationFactory(name="Globex")
    member(org, email="dev@globex.example")
    response = staff.post(reverse("admin:organizations_apikey_add"),
                          {"organization": org.pk, "name": "CI gateway", "_save": "Save"}, follow=True)
    assert response.status_code == 200
    text = " ".join(str(m) for m in get_messages(response.wsgi_request)) or response.content.decode()
    raw = re.search(r"bp_live_[A-Za-z0-9_\-]+", response.content.decode() + text).group(0)
    key = ApiKey.objects.get(organization=org)
    assert key.name == "CI gateway" and raw.startswith(key.prefix)
    assert AuditEntry.objects.filter(organization=org, action="api_key.create").exists()
    # The key works, and the change page never shows it again.
    assert ApiClient(raw).post("/admission", {"member": "dev@globex.example", "product": "chat",
                                              "model": "claude-haiku-4-5"}).status_code == 200
    page = staff.get(reverse("admin:organizations_apikey_change", args=[key.pk])).content.decode()
    assert raw not in page
    assert raw not in staff.get(changelist(ApiKey)).content.decode()


def test_revoke_action_refuses_the_key_from_the_next_request(staff):
    org = OrganizationFactory()
    member(org, email="dev@example.com")
    raw = api_key(org)
    key = ApiKey.objects.get(organization=org)
    response = staff.post(changelist(ApiKey), {"action": "revoke", "_selected_action": [key.pk]}, follow=True)
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEntry.objects.filter(organization=org, action="api_key.revoke").count() == 1
    assert ApiClient(raw).post("/admission", {"member": "dev@example.com", "product": "chat",
                                              "model": "claude-haiku-4-5"}).status_code == 401


def test_saving_a_price_in_admin_applies_at_once(staff):
    model = AIModel.objects.get(alias="claude-haiku-4-5")
    price_lookup(model_name="claude-haiku-4-5", at=timezone.now())  # the process-local cache is warm
    response = staff.post(reverse("admin:usage_modelprice_add"), {
        "model": model.pk, "effective_from_0": (timezone.now() - timezone.timedelta(minutes=1)).strftime("%Y-%m-%d"),
        "effective_from_1": (timezone.now() - timezone.timedelta(minutes=1)).strftime("%H:%M:%S"),
        "input": "2", "output": "10", "cache_write": "2.5", "cache_read": "0.2", "_save": "Save",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    _, price = price_lookup(model_name="claude-haiku-4-5", at=timezone.now())
    assert quote(price, Tokens(input=1_000_000, output=0)).cost == Decimal("2")
