"""The guided set-up after "Enable" (issue 14, rough edge 1): Team pays, sets auto-reload, a spend limit and
who can use extra usage; seat-based Enterprise sets limits for the organization, seat tiers and members. Every
step can be skipped; the last ends on Settings > Usage; what a step saves is audited like the settings page."""

from decimal import Decimal

import pytest
from django.urls import reverse

from apps.extra_usage.models import ExtraUsageSettings, MemberExtraUsage, PrepaidCharge
from apps.extra_usage.selectors import extra_usage_settings
from apps.organizations.models import AuditEntry, PlanKind
from apps.seats.models import SeatTier
from apps.usage.models import CapScope, SpendCap
from tests.factories import member

from .conftest import client_for, make_team

pytestmark = pytest.mark.django_db


def step_url(org, step=None):
    if step is None:
        return reverse("console:extra_usage_setup", kwargs={"slug": org.slug})
    if step == "done":
        return reverse("console:extra_usage_setup_finish", kwargs={"slug": org.slug})
    return reverse("console:extra_usage_setup_step", kwargs={"slug": org.slug, "step": step})


def enable(client, org):
    return client.post(reverse("extra_usage:switch", kwargs={"slug": org.slug}), {"enabled": "on"})


def settings_row(org) -> ExtraUsageSettings:
    return extra_usage_settings(organization=org)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- Team: pay → auto-reload → spend limit → members ----------------------------------------------------------


def test_team_enable_without_a_balance_starts_at_paying_and_leaves_extra_usage_off(provider):
    team = make_team(PlanKind.TEAM)
    client = client_for(team.owner)
    response = enable(client, team.org)
    assert response.status_code == 302 and response["Location"] == step_url(team.org)
    assert client.get(step_url(team.org))["Location"] == step_url(team.org, "pay")
    page = client.get(step_url(team.org, "pay"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Step 1 of 4" in text and "Skipping this step leaves extra usage off" in text
    assert [str(step.title) for step in page.context["flow"]] == ["Pay", "Auto-reload", "Spend limit", "Members"]
    assert settings_row(team.org).enabled is False


def test_team_walks_every_step_and_ends_on_settings_usage(provider):
    team = make_team(PlanKind.TEAM)
    dev = member(team.org, email="dev@acme.test", tier_code="standard")
    other = member(team.org, email="other@acme.test", tier_code="premium")
    client = client_for(team.owner)
    enable(client, team.org)
    token = client.get(step_url(team.org, "pay")).context["form"]["token"].value()

    paid = client.post(step_url(team.org, "pay"), {"amount": "150", "token": token}, follow=True)
    assert paid.redirect_chain == [(step_url(team.org, "auto-reload"), 302)]
    assert "Bought $150.00 of prepaid extra usage; extra usage is on." in messages_of(paid)
    row = settings_row(team.org)
    assert (row.enabled, row.prepaid_balance) == (True, Decimal("150"))
    # A double submit of the same form charges once.
    client.post(step_url(team.org, "pay"), {"amount": "150", "token": token})
    assert PrepaidCharge.objects.filter(organization=team.org).count() == 1

    reload = client.post(step_url(team.org, "auto-reload"), {
        "enabled": "on", "reload_threshold": "20", "reload_amount": "75", "monthly_reload_limit": "300"}, follow=True)
    assert reload.redirect_chain == [(step_url(team.org, "org-limit"), 302)]
    row = settings_row(team.org)
    assert (row.auto_reload_enabled, row.reload_threshold, row.reload_amount, row.monthly_reload_limit) == (
        True, Decimal("20"), Decimal("75"), Decimal("300"))

    limit = client.post(step_url(team.org, "org-limit"), {"amount": "1,250.50"}, follow=True)
    assert limit.redirect_chain == [(step_url(team.org, "members"), 302)]
    assert "Organization spend limit: $1,250.50" in messages_of(limit)
    assert SpendCap.objects.get(organization=team.org, scope=CapScope.ORGANIZATION).amount == Decimal("1250.50")

    members_page = client.get(step_url(team.org, "members"))
    listed = [row.membership.user.email for row, _ in members_page.context["switches"]]
    assert {"dev@acme.test", "other@acme.test"} <= set(listed)
    done = client.post(step_url(team.org, "members"), {"all_members": "chosen", "enabled": [str(dev.pk)]},
                       follow=True)
    assert done.redirect_chain[0] == (step_url(team.org, "done"), 302)
    assert done.redirect_chain[-1][0].endswith(reverse("console:usage_settings", kwargs={"slug": team.org.slug})
                                               + "#extra-usage")
    assert "Extra usage is set up. You can change any of it below." in messages_of(done)
    assert settings_row(team.org).all_members is False
    assert set(MemberExtraUsage.objects.filter(enabled=True).values_list("membership__user__email", flat=True)) == {
        "dev@acme.test"}
    assert not MemberExtraUsage.objects.filter(membership=other, enabled=True).exists()
    actions = set(AuditEntry.objects.filter(organization=team.org).values_list("action", flat=True))
    assert {"extra_usage.enable", "extra_usage.auto_reload", "cap.organization", "extra_usage.members",
            "extra_usage.member"} <= actions


def test_team_skipping_every_step_changes_nothing_and_says_extra_usage_is_still_off(provider):
    team = make_team(PlanKind.TEAM)
    client = client_for(team.owner)
    enable(client, team.org)
    before = AuditEntry.objects.filter(organization=team.org).count()
    url = step_url(team.org, "pay")
    for expected_next in ("auto-reload", "org-limit", "members", "done"):
        page = client.get(url)
        assert page.status_code == 200
        url = page.context["skip_url"]
        assert url == step_url(team.org, expected_next)
    finished = client.get(url, follow=True)
    assert "Extra usage is still off: buy prepaid extra usage to turn it on." in messages_of(finished)
    assert AuditEntry.objects.filter(organization=team.org).count() == before
    assert settings_row(team.org).enabled is False


def test_team_enable_with_a_balance_turns_on_at_once_and_opens_the_set_up(provider):
    team = make_team(PlanKind.TEAM)
    ExtraUsageSettings.objects.create(organization=team.org, prepaid_balance=Decimal("40"))
    client = client_for(team.owner)
    response = enable(client, team.org)
    assert response["Location"] == step_url(team.org)
    assert settings_row(team.org).enabled is True
    pay = client.get(step_url(team.org, "pay"))
    assert "$40.00" in pay.content.decode() and "Skipping this step" not in pay.content.decode()


def test_failed_payment_stays_on_the_pay_step_and_changes_nothing(provider):
    team = make_team(PlanKind.TEAM)
    provider.fail = True
    response = client_for(team.owner).post(step_url(team.org, "pay"), {"amount": "50", "token": "t-fail"})
    assert response.status_code == 400 and "Payment failed" in response.content.decode()
    row = settings_row(team.org)
    assert (row.enabled, row.prepaid_balance) == (False, Decimal("0"))


@pytest.mark.parametrize(("step", "data", "message"), [
    ("pay", {"amount": "2", "token": "t"}, "Enter at least $5.00."),
    ("pay", {"amount": "abc", "token": "t"}, "Enter a number."),
    ("auto-reload", {"enabled": "on", "reload_threshold": "10", "reload_amount": "2"}, ""),
    ("org-limit", {"amount": "12.345"}, "Use at most two decimal places."),
    ("org-limit", {"amount": "-5"}, "The limit cannot be negative."),
    ("org-limit", {"amount": "lots"}, "Enter an amount in dollars, e.g. 500 or 500.00."),
    ("members", {"all_members": "everyone"}, "Select a valid choice."),
])
def test_bad_input_is_shown_on_the_step_and_changes_nothing(provider, step, data, message):
    team = make_team(PlanKind.TEAM)
    before = AuditEntry.objects.filter(organization=team.org).count()
    response = client_for(team.owner).post(step_url(team.org, step), data)
    assert response.status_code == 400
    assert response.context["form"].errors
    assert message in response.content.decode()
    assert AuditEntry.objects.filter(organization=team.org).count() == before
    assert not SpendCap.objects.filter(organization=team.org).exists()
    assert not PrepaidCharge.objects.filter(organization=team.org, status="succeeded").exists()


# --- Seat-based Enterprise: spend limit → seat tiers → members ------------------------------------------------


def test_enterprise_enable_turns_on_and_asks_for_limits():
    team = make_team(PlanKind.ENTERPRISE_SEAT)
    client = client_for(team.owner)
    response = enable(client, team.org)
    assert response["Location"] == step_url(team.org)
    assert settings_row(team.org).enabled is True
    first = client.get(step_url(team.org), follow=True)
    assert first.redirect_chain == [(step_url(team.org, "org-limit"), 302)]
    assert [str(s.title) for s in first.context["flow"]] == ["Spend limit", "Limits by seat tier",
                                                             "Spend limits by user"]
    assert "Extra usage is on. Set it up in a few steps, or skip any of them." in messages_of(first)


def test_enterprise_sets_organization_tier_and_member_limits():
    team = make_team(PlanKind.ENTERPRISE_SEAT)
    client = client_for(team.owner)
    client.post(step_url(team.org, "org-limit"), {"amount": "5000"})
    assert SpendCap.objects.get(organization=team.org, scope=CapScope.ORGANIZATION).amount == Decimal("5000")

    standard = SeatTier.objects.get(organization=team.org, code="standard")
    premium = SeatTier.objects.get(organization=team.org, code="premium")
    page = client.get(step_url(team.org, "tier-limits"))
    assert [tier.code for _, tier in page.context["limit_rows"]] == ["standard", "premium"]
    saved = client.post(step_url(team.org, "tier-limits"),
                        {f"tier_{standard.pk}": "50", f"tier_{premium.pk}": ""}, follow=True)
    assert saved.redirect_chain == [(step_url(team.org, "member-limits"), 302)]
    assert SpendCap.objects.get(tier=standard).amount == Decimal("50.00")
    assert not SpendCap.objects.filter(tier=premium).exists()  # empty: still unlimited, nothing written

    page = client.get(step_url(team.org, "member-limits"))
    fields = {row.membership.pk: field.html_name for field, row in page.context["member_rows"]}
    finished = client.post(step_url(team.org, "member-limits"), {fields[team.member.pk]: "25"}, follow=True)
    assert finished.redirect_chain[0] == (step_url(team.org, "done"), 302)
    assert SpendCap.objects.get(membership=team.member).amount == Decimal("25.00")

    unchanged = client.post(step_url(team.org, "tier-limits"),
                            {f"tier_{standard.pk}": "50.00", f"tier_{premium.pk}": ""}, follow=True)
    assert "Nothing to change on the seat tier limits." in messages_of(unchanged)

    # Revisiting: clearing a member's amount removes their own limit; unchanged rows write nothing.
    before = AuditEntry.objects.filter(organization=team.org).count()
    client.post(step_url(team.org, "member-limits"), {fields[team.member.pk]: ""})
    assert not SpendCap.objects.filter(membership=team.member).exists()
    assert AuditEntry.objects.filter(organization=team.org).count() == before + 1
    assert AuditEntry.objects.filter(organization=team.org).latest("id").action == "cap.member.delete"


def test_enterprise_member_limits_search_and_bad_amount():
    team = make_team(PlanKind.ENTERPRISE_SEAT)
    client = client_for(team.owner)
    found = client.get(step_url(team.org, "member-limits") + "?q=admin@")
    assert [row.membership.user.email for _, row in found.context["member_rows"]] == ["admin@acme.test"]
    field = found.context["member_rows"][0][0].html_name
    bad = client.post(step_url(team.org, "member-limits") + "?q=admin@", {field: "10000000.01"})
    assert bad.status_code == 400
    assert "The limit cannot exceed $10,000,000.00 a month." in bad.content.decode()
    assert not SpendCap.objects.filter(organization=team.org).exists()


def test_the_set_up_speaks_german():
    team = make_team(PlanKind.ENTERPRISE_SEAT)
    client = client_for(team.owner)
    page = client.get(step_url(team.org, "org-limit"), HTTP_ACCEPT_LANGUAGE="de")
    text = page.content.decode()
    assert "Schritt 1 von 3" in text and "Ausgabenbegrenzung" in text
    saved = client.post(step_url(team.org, "org-limit"), {"amount": "1.234,50"}, HTTP_ACCEPT_LANGUAGE="de",
                        follow=True)
    assert SpendCap.objects.get(organization=team.org, scope=CapScope.ORGANIZATION).amount == Decimal("1234.50")
    assert any("1.234,50" in m for m in messages_of(saved))
    again = client.get(step_url(team.org, "org-limit"), HTTP_ACCEPT_LANGUAGE="de")
    assert again.context["form"]["amount"].value() == "1234,50"  # shown as a German reader types it
    same = client.post(step_url(team.org, "org-limit"), {"amount": "1234,50"}, HTTP_ACCEPT_LANGUAGE="de", follow=True)
    assert AuditEntry.objects.filter(organization=team.org, action="cap.organization").count() == 1  # unchanged
    assert any("1.234,50" in m and "bleibt" in m for m in messages_of(same))


# --- Access and queries -----------------------------------------------------------------------------------------


def test_who_may_use_the_set_up():
    team = make_team(PlanKind.TEAM)
    url = step_url(team.org, "org-limit")
    assert client_for(team.primary).get(url).status_code == 200
    assert client_for(team.owner).get(url).status_code == 200
    assert client_for(team.admin).get(url).status_code == 403
    assert client_for(team.member).get(url).status_code == 404
    assert client_for(team.outsider).get(url).status_code == 404
    assert client_for(team.owner).get(step_url(team.org, "tier-limits")).status_code == 404  # not a Team step
    assert client_for(team.owner).get(step_url(team.org, "nonsense")).status_code == 404


def test_usage_based_enterprise_has_no_set_up():
    team = make_team(PlanKind.ENTERPRISE_USAGE, slug="pool")
    assert client_for(team.owner).get(step_url(team.org)).status_code == 404
    assert client_for(team.owner).get(step_url(team.org, "org-limit")).status_code == 404


@pytest.mark.parametrize(("plan", "step", "ceiling"), [
    (PlanKind.TEAM, "pay", 12), (PlanKind.TEAM, "auto-reload", 12), (PlanKind.TEAM, "org-limit", 13),
    (PlanKind.TEAM, "members", 14), (PlanKind.ENTERPRISE_SEAT, "tier-limits", 13),
    (PlanKind.ENTERPRISE_SEAT, "member-limits", 16),
])
def test_each_step_takes_a_bounded_number_of_queries(plan, step, ceiling, django_assert_max_num_queries):
    team = make_team(plan)
    for n in range(30):
        member(team.org, email=f"m{n}@acme.test", tier_code="standard")
    client = client_for(team.owner)
    client.get(step_url(team.org, step))  # warm the session and settings rows
    with django_assert_max_num_queries(ceiling):
        assert client.get(step_url(team.org, step)).status_code == 200
