"""Spend-limit notices: who is emailed at which threshold, once per scope and period, also under concurrent
checks and task reruns; thresholds configurable per organization (audited)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from apps.monitoring.models import NoticeScope, SpendNotice
from apps.monitoring.services import notification_settings_set, spend_notifications_check
from apps.monitoring.tasks import monitoring_sweep, spend_notifications_task
from apps.organizations.models import AuditEntry, PlanKind, Role
from apps.spending.models import NotificationSettings
from apps.usage.models import CapScope
from apps.usage.services import cap_set
from tests.conftest import run_concurrently
from tests.factories import OrganizationFactory, UserFactory, member

from .conftest import NOW
from .helpers import record

pytestmark = pytest.mark.django_db


def _check(org, django_capture_on_commit_callbacks, ids=None):
    with django_capture_on_commit_callbacks(execute=True):
        return spend_notifications_check(organization=org, membership_ids=ids, now=NOW)


def _subjects_to(address):
    return [m.subject for m in mail.outbox if address in m.to]


def test_member_is_emailed_at_80_and_100_percent_of_their_limit_and_admins_at_100(
        team, outbox, django_capture_on_commit_callbacks):
    org, people = team
    dev = people[Role.MEMBER]
    cap_set(organization=org, scope=CapScope.MEMBER, membership=dev, amount=Decimal("10"), now=NOW)
    record(org, "member@acme.test", "7.99", now=NOW)
    assert _check(org, django_capture_on_commit_callbacks, [dev.pk]) == []
    record(org, "member@acme.test", "0.01", now=NOW)
    [notice] = _check(org, django_capture_on_commit_callbacks, [dev.pk])
    assert (notice.scope, notice.threshold, notice.spend) == (NoticeScope.MEMBER_LIMIT, 80, Decimal("8"))
    assert _subjects_to("member@acme.test") == ["You have used 80% of your spend limit"]
    assert _subjects_to("admin@acme.test") == []
    record(org, "member@acme.test", "2", now=NOW)
    _check(org, django_capture_on_commit_callbacks, [dev.pk])
    assert _subjects_to("member@acme.test")[-1] == "Your usage is paused: you reached your spend limit"
    for admin in ("admin@acme.test", "owner@acme.test", "primary_owner@acme.test"):
        assert _subjects_to(admin) == ["member@acme.test reached their spend limit in Acme"]
    assert "$10.00" in mail.outbox[-1].body
    paused = next(m for m in mail.outbox if m.to == ["member@acme.test"] and "paused" in m.subject)
    assert "Usage is paused until the new period starts on 1 December 2026" in paused.body


def test_each_threshold_fires_once_per_period_on_reruns(team, outbox, django_capture_on_commit_callbacks):
    org, people = team
    dev = people[Role.MEMBER]
    cap_set(organization=org, scope=CapScope.MEMBER, membership=dev, amount=Decimal("10"), now=NOW)
    record(org, "member@acme.test", "12", now=NOW)
    first = _check(org, django_capture_on_commit_callbacks, [dev.pk])
    assert sorted(n.threshold for n in first) == [80, 100]
    sent = len(mail.outbox)
    assert _check(org, django_capture_on_commit_callbacks, [dev.pk]) == []
    with django_capture_on_commit_callbacks(execute=True):
        spend_notifications_task(org.pk, [dev.pk])  # a task retry
        spend_notifications_task(org.pk, None)  # the sweep's full check
    assert len(mail.outbox) == sent
    assert SpendNotice.objects.filter(membership=dev).count() == 2


def test_next_period_fires_again(team, outbox, django_capture_on_commit_callbacks):
    org, people = team
    dev = people[Role.MEMBER]
    cap_set(organization=org, scope=CapScope.MEMBER, membership=dev, amount=Decimal("10"), now=NOW)
    record(org, "member@acme.test", "9", now=NOW)
    _check(org, django_capture_on_commit_callbacks, [dev.pk])
    december = dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC)
    record(org, "member@acme.test", "9", now=december)
    with django_capture_on_commit_callbacks(execute=True):
        [notice] = spend_notifications_check(organization=org, membership_ids=[dev.pk], now=december)
    assert notice.period_start == dt.date(2026, 12, 1)


def test_org_cap_notices_go_to_owners_once(team, outbox, django_capture_on_commit_callbacks):
    org, _ = team  # org cap $1,000
    record(org, "member@acme.test", "800", now=NOW)
    notices = _check(org, django_capture_on_commit_callbacks)
    assert [(n.scope, n.threshold) for n in notices] == [(NoticeScope.ORG_CAP, 80)]
    assert _subjects_to("owner@acme.test") == ["Acme has used 80% of its monthly spend cap"]
    assert _subjects_to("primary_owner@acme.test") == ["Acme has used 80% of its monthly spend cap"]
    assert _subjects_to("admin@acme.test") == [] and _subjects_to("member@acme.test") == []
    record(org, "admin@acme.test", "200", now=NOW)
    _check(org, django_capture_on_commit_callbacks)
    _check(org, django_capture_on_commit_callbacks)
    assert _subjects_to("owner@acme.test") == ["Acme has used 80% of its monthly spend cap",
                                               "Acme reached its monthly spend cap"]


def test_included_allowance_thresholds_on_seat_based_plans(frozen, outbox, django_capture_on_commit_callbacks):
    org = OrganizationFactory(plan_kind=PlanKind.TEAM, slug="teamco", name="TeamCo")
    dev = member(org, email="dev@teamco.test")  # Standard seat: $25 included
    record(org, "dev@teamco.test", "20", now=NOW)
    [notice] = _check(org, django_capture_on_commit_callbacks, [dev.pk])
    assert (notice.scope, notice.threshold, notice.limit_amount) == (NoticeScope.MEMBER_ALLOWANCE, 80,
                                                                     Decimal("25"))
    assert _subjects_to("dev@teamco.test") == ["You have used 80% of your included usage"]


def test_thresholds_are_configurable_per_organization_and_audited(team, outbox, django_capture_on_commit_callbacks):
    org, people = team
    owner = people[Role.OWNER]
    notification_settings_set(organization=org, thresholds=[100, 50], actor=owner.user, now=NOW)
    assert NotificationSettings.objects.get(organization=org).thresholds == [50, 100]
    entry = AuditEntry.objects.get(organization=org, action="notifications.thresholds")
    assert (entry.old_value, entry.new_value, entry.actor_label) == ([80, 100], [50, 100], "owner@acme.test")
    record(org, "member@acme.test", "600", now=NOW)
    assert [n.threshold for n in _check(org, django_capture_on_commit_callbacks)] == [50]


def test_owner_edits_thresholds_on_the_settings_page_and_bad_input_changes_nothing(client, team):
    org, _ = team
    url = reverse("monitoring:notification_settings", kwargs={"slug": org.slug})
    client.force_login(UserFactory(email="owner@acme.test"))
    assert client.get(url).status_code == 200
    for bad, message in (("80, abc", "whole numbers"), ("0, 100", "from 1 to 100"), ("80, 80", "appear once"),
                         ("", "required")):
        response = client.post(url, {"thresholds": bad})
        assert response.status_code == 400
        assert message in response.content.decode()
    assert not NotificationSettings.objects.filter(organization=org).exists()
    assert client.post(url, {"thresholds": "50%, 90, 100"}).status_code == 302
    assert NotificationSettings.objects.get(organization=org).thresholds == [50, 90, 100]
    client.force_login(UserFactory(email="admin@acme.test"))
    assert client.get(url).status_code == 404
    assert client.post(url, {"thresholds": "10"}).status_code == 404


def test_recording_usage_runs_the_check_through_the_followups(team, outbox, django_capture_on_commit_callbacks):
    org, people = team
    cap_set(organization=org, scope=CapScope.MEMBER, membership=people[Role.MEMBER], amount=Decimal("5"), now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        record(org, "member@acme.test", "5", now=NOW)
    assert SpendNotice.objects.filter(membership=people[Role.MEMBER]).count() == 2  # 80 and 100


def test_sweep_catches_up_a_lost_followup(team, outbox, django_capture_on_commit_callbacks):
    org, people = team
    cap_set(organization=org, scope=CapScope.MEMBER, membership=people[Role.MEMBER], amount=Decimal("5"), now=NOW)
    record(org, "member@acme.test", "4.5", now=NOW)  # on_commit never ran: the follow-up was lost
    assert not SpendNotice.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert monitoring_sweep() == 1
    assert [n.threshold for n in SpendNotice.objects.filter(membership=people[Role.MEMBER])] == [80]


@pytest.mark.django_db(transaction=True)
def test_concurrent_checks_send_each_notice_once(frozen, outbox):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="race", name="Race")
    dev = member(org, email="dev@race.test")
    member(org, email="admin@race.test", role=Role.ADMIN)
    member(org, email="owner@race.test", role=Role.OWNER)
    cap_set(organization=org, scope=CapScope.MEMBER, membership=dev, amount=Decimal("10"), now=NOW)
    cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=Decimal("10"), now=NOW)
    record(org, "dev@race.test", "10", now=NOW)
    mail.outbox.clear()
    SpendNotice.objects.all().delete()
    run_concurrently(8, lambda _: spend_notifications_check(organization=org, membership_ids=[dev.pk], now=NOW))
    assert sorted((n.scope, n.threshold) for n in SpendNotice.objects.all()) == [
        ("member_limit", 80), ("member_limit", 100), ("org_cap", 80), ("org_cap", 100)]
    assert sorted(m.subject for m in mail.outbox if "dev@race.test" in m.to) == [
        "You have used 80% of your spend limit", "Your usage is paused: you reached your spend limit"]
    # One email per recipient (each has its own unsubscribe link): the member ×2, the admin and the owner at
    # 100% ×1 each, the owner for the org cap ×2.
    assert len(mail.outbox) == 6
