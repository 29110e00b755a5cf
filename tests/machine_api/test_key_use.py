"""A machine API key's `last_used_at` (shown on the keys page) is recorded at most once a minute."""

import datetime as dt

import pytest
import time_machine

from apps.organizations.models import ApiKey, PlanKind
from tests.conftest import ApiClient
from tests.factories import OrganizationFactory, api_key, member

from .conftest import usage_body

ADMISSION = {"member": "dev@example.com", "product": "chat", "model": "claude-sonnet-4-5"}
NOON = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


def _used_at(org):
    return ApiKey.objects.get(organization=org).last_used_at


@pytest.mark.parametrize("path", ["/admission", "/usage"])
@pytest.mark.django_db(transaction=True)  # outside a test transaction: the one-statement, own-commit path
def test_key_use_is_recorded_then_refreshed_only_after_a_minute(path):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    member(org, email="dev@example.com", tier_code="chat_code")
    client = ApiClient(api_key(org))

    def call(n):
        body = ADMISSION if path == "/admission" else usage_body(f"k{n}")
        assert client.post(path, body).status_code in (200, 201)

    assert _used_at(org) is None
    with time_machine.travel(NOON, tick=False):
        call(1)
    assert _used_at(org) == NOON
    with time_machine.travel(NOON + dt.timedelta(seconds=50), tick=False):
        call(2)
    assert _used_at(org) == NOON
    with time_machine.travel(NOON + dt.timedelta(seconds=61), tick=False):
        call(3)
    assert _used_at(org) == NOON + dt.timedelta(seconds=61)
