"""Emails go out in the recipient's language: their saved preference, else the organization's default; emails
to a group (owners, admins) and to someone without an account in the organization's default."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.test import Client

from apps.monitoring.services import spend_notifications_check
from apps.organizations.models import PlanKind, Role
from apps.usage.models import CapScope
from apps.usage.services import cap_set
from tests.factories import OrganizationFactory, member
from tests.monitoring.helpers import record

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
NBSP = "\u00a0"


@pytest.fixture
def team():
    with time_machine.travel(NOW, tick=False):
        org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="acme", name="Acme",
                                  default_language="fr")
        people = {role: member(org, email=f"{role}@acme.test", role=role, since=NOW - dt.timedelta(days=60))
                  for role in (Role.PRIMARY_OWNER, Role.OWNER, Role.ADMIN, Role.MEMBER)}
        cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=Decimal("1000"), now=NOW)
        yield org, people


def _subjects_to(address):
    return [m.subject for m in mail.outbox if address in m.to]


def test_a_member_gets_their_notice_in_their_language_and_admins_in_the_organizations(
        team, django_capture_on_commit_callbacks):
    org, people = team
    dev = people[Role.MEMBER]
    dev.user.language = "de"
    dev.user.save(update_fields=["language"])
    with time_machine.travel(NOW, tick=False):
        cap_set(organization=org, scope=CapScope.MEMBER, membership=dev, amount=Decimal("1000"), now=NOW)
        record(org, "member@acme.test", "1000", now=NOW)
        with django_capture_on_commit_callbacks(execute=True):
            spend_notifications_check(organization=org, membership_ids=[dev.pk], now=NOW)
    assert _subjects_to("member@acme.test") == [
        f"Sie haben 80{NBSP}% Ihrer Ausgabenbegrenzung genutzt",
        "Ihre Nutzung ist pausiert: Sie haben Ihre Ausgabenbegrenzung erreicht"]
    assert f"1.000,00{NBSP}$" in next(m for m in mail.outbox if m.to == ["member@acme.test"]).body
    assert _subjects_to("admin@acme.test") == ["member@acme.test a atteint son plafond de dépenses chez Acme"]
    # Owners hear about the organization cap (also reached) in the organization's default language.
    assert "Acme a atteint son plafond de dépenses mensuel" in _subjects_to("owner@acme.test")


def test_english_stays_the_default(django_capture_on_commit_callbacks):
    with time_machine.travel(NOW, tick=False):
        org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="initech", name="Initech")
        dev = member(org, email="dev@initech.test", since=NOW - dt.timedelta(days=60))
        cap_set(organization=org, scope=CapScope.MEMBER, membership=dev, amount=Decimal("10"), now=NOW)
        record(org, "dev@initech.test", "8", now=NOW)
        with django_capture_on_commit_callbacks(execute=True):
            spend_notifications_check(organization=org, membership_ids=[dev.pk], now=NOW)
    assert _subjects_to("dev@initech.test") == ["You have used 80% of your spend limit"]


def test_an_invitation_is_written_in_the_organizations_default_language(team, django_capture_on_commit_callbacks):
    org, people = team
    client = Client()
    client.force_login(people[Role.OWNER].user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/orgs/acme/members/invite/", {"email": "new@acme.test", "role": "member",
                                                             "tier": "chat"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204, response.content
    [invitation] = [m for m in mail.outbox if m.to == ["new@acme.test"]]
    assert invitation.subject == "Vous êtes invité(e) chez Acme"
    assert "en tant que Membre" in invitation.body
