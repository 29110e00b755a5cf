"""Every list endpoint answers in a fixed number of queries, whatever the page size."""

from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from apps.admin_api.models import AdminScope
from apps.common import outbound
from apps.extra_usage.services.usage_requests import extra_usage_request_create
from apps.usage.models import CapScope
from apps.usage.services import cap_set
from apps.webhooks.services import endpoint_create
from tests.factories import member

from .conftest import Seeded, admin_key, spend

pytestmark = pytest.mark.django_db

LISTS = ["/v1/organizations/spend_limits/effective?limit=1000",
         "/v1/organizations/spend_limit_increase_requests?limit=1000",
         "/v1/organizations/spend_limits?limit=1000"]


@pytest.mark.parametrize("path", LISTS)
def test_list_query_count_does_not_grow_with_the_page(path, django_assert_max_num_queries):
    seeded = Seeded()
    client = Client(headers={"x-api-key": seeded.key})
    client.get(path)  # first call creates nothing more than the org row (already there) and warms caches
    with django_assert_max_num_queries(12) as small:
        assert client.get(path).status_code == 200
    now = timezone.now()
    for n in range(25):
        newcomer = member(seeded.org, tier_code=("chat", "chat_code")[n % 2])
        spend(newcomer, "10")
        # Own caps that bind (under their spend) and some that do not: the report names both kinds of rows.
        cap_set(organization=seeded.org, scope=CapScope.MEMBER, membership=newcomer,
                amount=Decimal("5") if n % 3 else None, now=now)
        extra_usage_request_create(membership=newcomer, now=now)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(path)
    assert len(response.json()["data"]) >= 25


def test_webhook_endpoint_list_query_count_does_not_grow_with_the_page(monkeypatch, django_assert_max_num_queries):
    monkeypatch.setattr(outbound, "check_url_host", lambda host, port: None)  # `hooks.example` does not resolve here
    seeded = Seeded()
    client = Client(headers={"x-api-key": admin_key(seeded.org, scopes=[AdminScope.READ_WEBHOOKS])})
    path = "/v1/organizations/webhooks?limit=100"
    endpoint_create(organization=seeded.org, url="https://hooks.example/0", events=["invoice.paid"],
                    now=timezone.now())
    client.get(path)
    with django_assert_max_num_queries(12) as small:
        assert client.get(path).status_code == 200
    for n in range(1, 15):
        endpoint_create(organization=seeded.org, url=f"https://hooks.example/{n}", events=["invoice.paid"],
                        now=timezone.now())
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(path)
    assert len(response.json()["data"]) == 15
