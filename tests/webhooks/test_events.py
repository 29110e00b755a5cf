"""Each service that reports an event emits it, in its own transaction, with the documented payload."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.extra_usage.services.auto_reload import auto_reload_check
from apps.extra_usage.services.usage_requests import (
    extra_usage_request_create,
    extra_usage_request_deny,
)
from apps.invoicing.services import invoice_issue_for_period, invoice_mark_paid
from apps.monitoring.services import spend_notifications_check
from apps.organizations.models import AuditEntry, PlanKind, Role
from apps.spending.requests import extra_usage_request_approve
from apps.usage.models import CapScope
from apps.usage.services import cap_set
from apps.webhooks.models import WebhookDelivery, WebhookEvent
from tests.extra_usage.conftest import spend
from tests.extra_usage.test_prepaid import setup_team
from tests.factories import OrganizationFactory, member
from tests.monitoring.helpers import record
from tests.webhooks.conftest import assert_body_matches_schema, endpoint_for

pytestmark = pytest.mark.django_db
URL = "https://hooks.acme.example/in"


def events(org) -> list[tuple[str, dict]]:
    """Each event's type and `data`, after checking its body against the published schema and that it names
    the organization (which is then left out, to compare the rest)."""
    found = []
    for event in WebhookEvent.objects.filter(organization=org).select_related("organization").order_by("id"):
        data = assert_body_matches_schema(event)
        assert data.pop("organization") == {"id": org.pk, "slug": org.slug}
        found.append((event.event_type, data))
    return found


def test_spend_notices_emit_threshold_reached_then_cap_reached():
    now = timezone.now()
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="acme")
    member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER)
    dev = member(org, email="dev@acme.example")
    endpoint_for(org, URL)
    cap_set(organization=org, scope=CapScope.MEMBER, membership=dev, amount=Decimal("10"), now=now)
    record(org, "dev@acme.example", "8", now=now)
    spend_notifications_check(organization=org, membership_ids=[dev.pk], now=now)
    record(org, "dev@acme.example", "2", now=now)
    spend_notifications_check(organization=org, membership_ids=[dev.pk], now=now)
    spend_notifications_check(organization=org, membership_ids=[dev.pk], now=now)  # a rerun emits nothing
    period = now.date().replace(day=1).isoformat()
    assert events(org) == [
        ("spend.threshold_reached", {"scope": "member_limit", "member": "dev@acme.example", "threshold_percent": 80,
                                     "limit": "10.00", "spend": "8.0000000000", "currency": "USD",
                                     "period_start": period}),
        ("spend.cap_reached", {"scope": "member_limit", "member": "dev@acme.example", "threshold_percent": 100,
                               "limit": "10.00", "spend": "10.0000000000", "currency": "USD",
                               "period_start": period}),
    ]
    assert WebhookDelivery.objects.filter(event__organization=org).count() == 2


def test_extra_usage_requests_emit_created_and_decided():
    now = timezone.now()
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="ent")
    admin = member(org, email="owner@ent.example", role=Role.PRIMARY_OWNER)
    asker = member(org, email="std@ent.example", tier_code="standard")
    other = member(org, email="prem@ent.example", tier_code="premium")
    endpoint_for(org, URL)
    first = extra_usage_request_create(membership=asker, now=now)
    assert extra_usage_request_create(membership=asker, now=now) == first  # asking again: same request, no event
    extra_usage_request_deny(request=first, actor=admin.user, now=now)
    second = extra_usage_request_create(membership=other, now=now)
    extra_usage_request_approve(request=second, amount=Decimal("50"), actor=admin.user, api_key_public_id="apikey_01t",
                                now=now)
    got = events(org)
    assert [(t, p["member"], p["status"]) for t, p in got] == [
        ("extra_usage.request_created", "std@ent.example", "pending"),
        ("extra_usage.request_decided", "std@ent.example", "denied"),
        ("extra_usage.request_created", "prem@ent.example", "pending"),
        ("extra_usage.request_decided", "prem@ent.example", "approved"),
    ]
    assert got[0][1]["request_id"] == first.public_id and got[3][1]["approved_amount"] == "50.00"


def test_auto_reloads_emit_reloaded_and_reload_failed(provider):  # noqa: F811
    org = OrganizationFactory(plan_kind=PlanKind.TEAM, slug="team-co")
    owner = member(org, email="owner@team.example", role=Role.PRIMARY_OWNER)
    member(org, email="dev@team.example", tier_code="standard")
    endpoint_for(org, URL)
    setup_team(org, owner)
    spend(org, "dev@team.example", "25.00")
    spend(org, "dev@team.example", "40.00")
    assert auto_reload_check(organization=org, now=timezone.now()).status == "succeeded"
    spend(org, "dev@team.example", "40.00")
    provider.fail = True
    assert auto_reload_check(organization=org, now=timezone.now()).status == "failed"
    got = events(org)
    assert [t for t, _ in got] == ["prepaid.reloaded", "prepaid.reload_failed"]  # purchases are not reloads
    assert got[0][1]["amount"] == "40.00" and got[0][1]["payment_reference"].startswith("inv_")
    assert got[1][1]["error"] == "Your card was declined." and got[1][1]["payment_reference"] is None


def test_invoices_emit_issued_and_paid_once():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="billed")
    member(org, email="owner@billed.example", role=Role.PRIMARY_OWNER,
           since=dt.datetime(2026, 9, 1, tzinfo=dt.UTC))
    endpoint_for(org, URL)
    now = dt.datetime(2026, 11, 1, 1, tzinfo=dt.UTC)
    invoice = invoice_issue_for_period(organization=org, period_start=dt.date(2026, 10, 1), now=now)
    invoice_mark_paid(invoice=invoice, now=now, source="stripe")
    invoice_mark_paid(invoice=invoice, now=now, source="stripe")  # already paid: nothing more
    got = events(org)
    assert [t for t, _ in got] == ["invoice.issued", "invoice.paid"]
    assert got[0][1]["number"] == invoice.number and got[0][1]["total"] == str(invoice.total)
    assert got[1][1]["status"] == "paid" and got[1][1]["source"] == "stripe"
    assert AuditEntry.objects.filter(organization=org, action="invoice.paid").count() == 1
