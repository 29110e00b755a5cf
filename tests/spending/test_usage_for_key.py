"""One usage event sent with an API key: the key and the member's spend context are read by one statement
(spend_context_for_key), as admission reads them; the answers and the ledger are those of usage_record_batch."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.common.periods import period_containing
from apps.organizations.models import PlanKind
from apps.organizations.services import api_key_authenticate, api_key_revoke
from apps.spending.services import UsageInput, usage_record_for_key
from apps.usage.models import MemberPeriodUsage, UsageEvent
from apps.usage.pricing import Tokens
from tests.factories import OrganizationFactory, api_key, member

pytestmark = pytest.mark.django_db


class Refused(Exception):
    pass


def event(key: str, email: str = "dev@example.com", occurred_at=None) -> UsageInput:
    return UsageInput(idempotency_key=key, member=email, product="chat", model="claude-sonnet-4-5",
                      tokens=Tokens(input=1000, output=100), occurred_at=occurred_at)


@pytest.fixture
def org_key():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    membership = member(org, email="dev@example.com", tier_code="chat_code")
    return org, membership, api_key(org)


def test_key_and_member_are_read_by_one_statement(org_key):
    _, _, raw = org_key
    now = timezone.now()
    usage_record_for_key(raw_key=raw, item=event("warm"), now=now, key_check=lambda key: None)
    with CaptureQueriesContext(connection) as queries:
        outcome = usage_record_for_key(raw_key=raw, item=event("k1"), now=now, key_check=lambda key: None)
    assert outcome.status == "created"
    statements = [q["sql"] for q in queries.captured_queries]
    reads_of_the_key = [s for s in statements if "organizations_apikey" in s]
    assert len(reads_of_the_key) == 1 and "usage_memberperiodusage" in reads_of_the_key[0]


def test_unknown_or_revoked_key_records_nothing_and_checks_nothing(org_key):
    _, _, raw = org_key
    checked = []
    assert usage_record_for_key(raw_key="nope", item=event("k1"), now=timezone.now(),
                                key_check=checked.append) is None
    api_key_revoke(key=api_key_authenticate(raw_key=raw))
    assert usage_record_for_key(raw_key=raw, item=event("k1"), now=timezone.now(),
                                key_check=checked.append) is None
    assert checked == [] and UsageEvent.objects.count() == 0


def test_key_check_runs_before_anything_is_decided_or_stored(org_key):
    _, _, raw = org_key

    def refuse(key):
        raise Refused(key.organization_id)

    for item in (event("k1"), event("k2", email="nobody@example.com"),
                 event("k3", occurred_at=timezone.now() + dt.timedelta(days=30))):
        with pytest.raises(Refused):
            usage_record_for_key(raw_key=raw, item=item, now=timezone.now(), key_check=refuse)
    assert UsageEvent.objects.count() == 0


def test_retry_replays_and_other_body_conflicts(org_key):
    _, membership, raw = org_key
    now = timezone.now()
    first = usage_record_for_key(raw_key=raw, item=event("k1"), now=now, key_check=lambda key: None)
    again = usage_record_for_key(raw_key=raw, item=event("k1"), now=now, key_check=lambda key: None)
    other = usage_record_for_key(raw_key=raw, item=event("k1", email="DEV@example.com ", occurred_at=now),
                                 now=now, key_check=lambda key: None)
    assert [first.status, again.status, other.status] == ["created", "replayed", "conflict"]
    assert again.answer() == first.answer()
    assert UsageEvent.objects.filter(membership=membership).count() == 1


def test_an_event_of_last_month_counts_in_last_months_period(org_key):
    org, membership, raw = org_key
    now = timezone.now()
    this = period_containing(now, org.billing_timezone)
    last_month = this.starts_at - dt.timedelta(hours=1)
    outcome = usage_record_for_key(raw_key=raw, item=event("old", occurred_at=last_month), now=now,
                                   key_check=lambda key: None)
    assert outcome.status == "created"
    previous = period_containing(last_month, org.billing_timezone).start
    counters = MemberPeriodUsage.objects.get(membership=membership, period_start=previous)
    assert counters.spend == Decimal("0.0045")
    assert not MemberPeriodUsage.objects.filter(membership=membership, period_start=this.start).exists()


def test_a_non_member_is_refused_naming_the_member(org_key):
    _, _, raw = org_key
    outcome = usage_record_for_key(raw_key=raw, item=event("k1", email="nobody@example.com"),
                                   now=timezone.now(), key_check=lambda key: None)
    assert (outcome.status, outcome.field) == ("invalid", "member")
