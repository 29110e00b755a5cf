"""After recorded usage reaches a notice threshold, the follow-up task runs the steps of the apps above and
beside spending: monitoring's spend notice (registered from its AppConfig) is sent once."""

from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from apps.monitoring.models import NoticeScope, SpendNotice
from apps.organizations.models import PlanKind
from apps.spending.services import UsageInput, usage_record_batch
from apps.usage.models import CapScope
from apps.usage.pricing import Tokens
from apps.usage.services import cap_set
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db


def record(org, email, dollars, key, capture):
    item = UsageInput(idempotency_key=key, member=email, product="chat", model="claude-haiku-4-5",
                      tokens=Tokens(input=int(Decimal(dollars) * 1_000_000), output=0))
    with capture(execute=True):
        [outcome] = usage_record_batch(organization=org, items=[item], now=timezone.now())
    return outcome


def test_reaching_a_member_limit_threshold_sends_the_notice_once(django_capture_on_commit_callbacks):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    dev = member(org, email="dev@example.com", tier_code="chat")
    cap_set(organization=org, scope=CapScope.MEMBER, membership=dev, amount=Decimal("10.00"))

    assert record(org, "dev@example.com", "8.50", "a", django_capture_on_commit_callbacks).status == "created"
    assert record(org, "dev@example.com", "0.50", "b", django_capture_on_commit_callbacks).status == "created"

    notices = list(SpendNotice.objects.filter(organization=org).values_list("scope", "threshold"))
    assert notices == [(NoticeScope.MEMBER_LIMIT, 80)]
    assert [m.to for m in mail.outbox] == [["dev@example.com"]]
    assert "80%" in mail.outbox[0].subject
