"""Pages: who may do what, the member's request button, the review modal, the owners' forms."""

import html
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.extra_usage.models import ExtraUsageRequest, ExtraUsageSettings, PrepaidCharge
from apps.extra_usage.services.usage_requests import extra_usage_request_create
from apps.organizations.models import PlanKind
from apps.seats.models import SeatTier
from apps.seats.selectors import seat_change_proration, seat_current
from apps.usage.models import SpendCap
from tests.factories import OrganizationFactory, member

from .conftest import spend

pytestmark = pytest.mark.django_db


def client_for(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def url(name, org, **kwargs):
    return reverse(f"extra_usage:{name}", kwargs={"slug": org.slug, **kwargs})


def test_member_request_button_then_request_sent_and_a_second_click_creates_nothing(seat_org):
    org, _, _, std, _ = seat_org
    spend(org, "std@ent.example", "30.00")
    client = client_for(std)
    page = client.get(url("my", org))
    assert b"Request extra usage" in page.content
    hx = {"HTTP_HX_REQUEST": "true"}
    first = client.post(url("request_create", org), **hx)
    second = client.post(url("request_create", org), **hx)
    assert b"Request sent to admin" in first.content and b"Request sent to admin" in second.content
    assert ExtraUsageRequest.objects.filter(membership=std).count() == 1
    plain = client.post(url("request_create", org))
    assert plain.status_code == 302
    assert b"Request sent to admin" in client.get(url("my", org)).content


def test_member_page_shows_when_extra_usage_started_and_its_cost(seat_org):
    from apps.extra_usage.services.switches import extra_usage_enable

    org, owner, _, std, _ = seat_org
    extra_usage_enable(organization=org, actor=owner.user, now=timezone.now())
    spend(org, "std@ent.example", "32.50")
    page = client_for(std).get(url("my", org))
    assert b"You moved into extra usage on" in page.content and b"$2.50" in page.content


def test_roles_owner_edits_admin_reviews_member_asks_outsider_sees_nothing(seat_org):
    org, owner, admin, std, _ = seat_org
    other = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT)
    outsider = member(other, email="x@other.example")
    assert client_for(owner).get(url("settings", org)).status_code == 200
    admin_page = client_for(admin).get(url("settings", org))
    assert admin_page.status_code == 200 and b"Review requests" in admin_page.content
    assert b'name="enabled" value="on"' not in admin_page.content  # no "Enable" for admins
    assert client_for(admin).post(url("switch", org), {"enabled": "on"}).status_code == 403
    assert client_for(std).get(url("settings", org)).status_code == 403
    assert client_for(outsider).get(url("settings", org)).status_code == 404
    request = extra_usage_request_create(membership=std, now=timezone.now())
    assert client_for(outsider).post(url("approve", org, public_id=request.public_id)).status_code == 404
    assert client_for(std).post(url("approve", org, public_id=request.public_id)).status_code == 403
    # another organization's request through this organization's URL: 404
    other_req = extra_usage_request_create(membership=member(other, tier_code="standard"), now=timezone.now())
    assert client_for(admin).post(url("approve", org, public_id=other_req.public_id)).status_code == 404


def test_owner_switches_extra_usage_on_and_off(seat_org):
    org, owner, _, _, _ = seat_org
    client = client_for(owner)
    response = client.post(url("switch", org), {"enabled": "on"})
    assert response.status_code == 302
    assert ExtraUsageSettings.objects.get(organization=org).enabled is True
    client.post(url("switch", org), {"enabled": "off"})
    assert ExtraUsageSettings.objects.get(organization=org).enabled is False


def test_review_modal_lists_requests_and_increase_limit_approves_with_the_amount(seat_org):
    org, _, admin, std, prem = seat_org
    spend(org, "prem@ent.example", "160.00")  # past her included usage, extra usage off: stopped
    extra_usage_request_create(membership=std, now=timezone.now())
    request = extra_usage_request_create(membership=prem, now=timezone.now())
    client = client_for(admin)
    modal = client.get(url("review_modal", org))
    assert b"std@ent.example" in modal.content and b"Premium seat" in modal.content
    response = client.post(url("approve", org, public_id=request.public_id), {"amount": "40.00"})
    assert response.status_code == 302
    assert SpendCap.objects.get(membership=prem).amount == Decimal("40.00")
    bad = client.post(url("approve", org, public_id=request.public_id), {"amount": "1"}, follow=True)
    assert b"already resolved" in bad.content


def test_deny_from_the_modal(seat_org):
    org, _, admin, std, _ = seat_org
    request = extra_usage_request_create(membership=std, now=timezone.now())
    client_for(admin).post(url("deny", org, public_id=request.public_id))
    request.refresh_from_db()
    assert request.status == "denied"
    assert seat_current(membership=std).tier.code == "standard"


def test_team_owner_buys_prepaid_extra_usage(team, provider):
    org, owner, _, _ = team
    client = client_for(owner)
    form = client.get(url("purchase", org))
    assert form.status_code == 200 and b"Buy prepaid extra usage" in form.content
    token = form.context["form"]["token"].value()
    response = client.post(url("purchase", org), {"amount": "100.00", "token": token}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"]
    row = ExtraUsageSettings.objects.get(organization=org)
    assert (row.enabled, row.prepaid_balance) == (False, Decimal("100"))  # buying alone does not turn it on
    client.post(url("purchase", org), {"amount": "100.00", "token": token})
    assert PrepaidCharge.objects.filter(organization=org).count() == 1  # a double submit charges once


def test_failed_payment_is_shown_in_the_modal_and_changes_nothing(team, provider):
    org, owner, _, _ = team
    provider.fail = True
    response = client_for(owner).post(url("purchase", org), {"amount": "50", "token": "t1"},
                                      HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b"Payment failed" in response.content
    row = ExtraUsageSettings.objects.get(organization=org)
    assert (row.enabled, row.prepaid_balance) == (False, Decimal("0"))


def test_auto_reload_form_saves_and_rejects_bad_input(team):
    org, owner, _, _ = team
    client = client_for(owner)
    bad = client.post(url("auto_reload", org), {"enabled": "on", "reload_threshold": "10", "reload_amount": "2"},
                      HTTP_HX_REQUEST="true")
    assert bad.status_code == 200 and b"at least $5.00" in bad.content
    ok = client.post(url("auto_reload", org), {"enabled": "on", "reload_threshold": "10", "reload_amount": "50",
                                               "monthly_reload_limit": "200"}, HTTP_HX_REQUEST="true")
    assert ok.status_code == 204
    row = ExtraUsageSettings.objects.get(organization=org)
    assert (row.auto_reload_enabled, row.reload_threshold, row.reload_amount, row.monthly_reload_limit) == (
        True, Decimal("10"), Decimal("50"), Decimal("200"))


def test_prepaid_pages_are_team_only(seat_org):
    org, owner, _, _, _ = seat_org
    assert client_for(owner).get(url("purchase", org)).status_code == 404


def test_increase_limit_shows_the_price_of_a_premium_seat_to_owners_only(seat_org):
    org, owner, admin, std, prem = seat_org
    spend(org, "std@ent.example", "30.00")
    extra_usage_request_create(membership=std, now=timezone.now())
    extra_usage_request_create(membership=prem, now=timezone.now())

    tiers = {t.code: t for t in SeatTier.objects.filter(organization=org)}
    quote = seat_change_proration(organization=org, from_tier=tiers["standard"], to_tier=tiers["premium"],
                                  now=timezone.now())
    page = html.unescape(client_for(owner).get(url("review_modal", org)).content.decode())
    std_row = page.split('data-request="')[1]
    assert (f"Moving this member to a Premium seat costs ${quote.amount:,.2f} now for the remaining "
            f"{quote.remaining_days} of {quote.period_days} days, then ${quote.fee_difference:,.2f} more each "
            "month. You confirm the charge before it is made." in std_row)
    assert page.count('data-testid="upgrade-price"') == 1  # the Premium member's approval costs no seat change
    # Admins never trigger a charge (as on Members): no price, no "Move to Premium".
    page = client_for(admin).get(url("review_modal", org)).content.decode()
    assert 'data-testid="upgrade-price"' not in page and "Move to Premium" not in page


def test_review_modal_queries_do_not_grow_with_requests(seat_org, django_assert_max_num_queries):
    org, _, admin, _, _ = seat_org
    for _ in range(12):
        asker = member(org, tier_code="standard")
        spend(org, asker.user.email, "30.00")  # stopped: each row shows its decision and plan
        extra_usage_request_create(membership=asker, now=timezone.now())
    client = client_for(admin)
    with django_assert_max_num_queries(9):
        response = client.get(url("review_modal", org))
    assert response.content.count(b"data-request=") == 12


def test_settings_page_queries_are_bounded(team, provider, django_assert_max_num_queries):
    org, owner, _, _ = team
    from apps.extra_usage.services.prepaid import prepaid_purchase

    for i in range(10):
        prepaid_purchase(organization=org, amount=Decimal("5"), idempotency_key=f"p{i}", actor=owner.user,
                         now=timezone.now())
    client = client_for(owner)
    with django_assert_max_num_queries(14):
        response = client.get(url("settings", org))
    assert response.content.count(b"Purchase</td>") == 0 and response.content.count(b"inv_") == 10
