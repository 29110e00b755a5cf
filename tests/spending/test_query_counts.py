"""The loader reads a spend context in one statement, for one member or a page of them, and recording a batch
reads its members' contexts in one statement per billing period, whatever the number of members."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.common.periods import period_containing
from apps.monitoring.context_processors import banner_for
from apps.organizations.models import PlanKind, Role
from apps.spending.selectors import spend_contexts_load
from apps.spending.services import UsageInput, usage_record_batch
from apps.usage.models import CapScope
from apps.usage.pricing import Tokens, price_lookup
from apps.usage.services import cap_set
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db


def organization(n: int):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT)
    owner = member(org, email=f"owner-{n}@example.com", role=Role.OWNER)
    people = [owner] + [member(org, email=f"m{i}-{n}@example.com") for i in range(n)]
    cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=Decimal("100"))
    for m in people[::2]:
        cap_set(organization=org, scope=CapScope.MEMBER, membership=m, amount=Decimal("5"))
    return org, people


@pytest.mark.parametrize("size", [3, 30])
def test_a_page_of_members_is_one_statement(size, django_assert_num_queries):
    org, people = organization(size)
    period = period_containing(timezone.now(), org.billing_timezone)
    with django_assert_num_queries(1):
        _, found = spend_contexts_load(organization=org, period=period, membership_ids=[m.pk for m in people])
        statuses = {mid: f.status for mid, f in found.items()}
    assert len(statuses) == size + 1
    assert statuses[people[0].pk].limit == Decimal("5")


def test_the_spend_banner_is_one_statement(django_assert_num_queries):
    org, people = organization(2)
    with django_assert_num_queries(1):
        banner_for(user=people[0].user, slug=org.slug, now=timezone.now())


def _batch_queries(size: int) -> int:
    org, people = organization(size)
    items = [UsageInput(idempotency_key=f"k{i}", member=m.user.email, product="chat", model="claude-haiku-4-5",
                        tokens=Tokens(input=1000, output=10)) for i, m in enumerate(people)]
    price_lookup(model_name="claude-haiku-4-5", at=timezone.now())  # the price table is cached per process
    with CaptureQueriesContext(connection) as queries:
        outcomes = usage_record_batch(organization=org, items=items, now=timezone.now())
    assert {o.status for o in outcomes} == {"created"}
    return len(queries)


def test_recording_a_batch_reads_as_many_statements_for_20_members_as_for_2():
    assert _batch_queries(2) == _batch_queries(20)
