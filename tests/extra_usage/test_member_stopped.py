"""A stopped member is told why, until when, and what they can do (My usage)."""

import html
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.organizations.models import PlanKind
from apps.usage.models import CapScope
from apps.usage.services import cap_set
from tests.factories import OrganizationFactory, member

from .conftest import spend

pytestmark = pytest.mark.django_db


def _my_usage(client, membership) -> str:
    client.force_login(membership.user)
    page = client.get(reverse("monitoring:my_usage", kwargs={"slug": membership.organization.slug})).content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<(strong|/strong)>", "", html.unescape(page)))  # the text a person reads


def test_a_team_member_past_included_usage_is_told_why_and_to_ask_an_admin(client, team):
    org, _owner, _admin, dev = team  # extra usage is off; Standard seat includes $25
    spend(org, "dev@team.example", "25")
    page = _my_usage(client, dev)
    assert 'data-testid="stopped-notice"' in page
    assert "Your usage is paused. You have used all of the usage included in your seat this month." in page
    assert "It resumes when the new month begins" in page
    # Team has no requests for extra usage: the member is pointed to an admin.
    assert "Ask an admin of your organization to raise your limit or turn on extra usage for you." in page
    assert "Request extra usage" not in page


def test_a_member_under_their_limits_sees_no_notice(client, team):
    org, _owner, _admin, dev = team
    spend(org, "dev@team.example", "5")
    assert 'data-testid="stopped-notice"' not in _my_usage(client, dev)


def test_a_usage_based_member_at_their_limit_reads_no_extra_usage_wording_and_may_ask(client, db):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="pooled-co")
    dev = member(org, email="dev@pooled.example")
    cap_set(organization=org, scope=CapScope.MEMBER, membership=dev, amount=Decimal("10"), now=timezone.now())
    spend(org, "dev@pooled.example", "10")
    page = _my_usage(client, dev)
    assert "Your monthly limit" in page and "Extra usage" not in page and "included usage" not in page
    assert "Your usage is paused. You have reached your spend limit for this month." in page
    assert "Request extra usage" in page and 'data-testid="ask-admin"' not in page
