"""The daily digest of pending requests: one email per admin and above, once a day, none when nothing pends."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from apps.extra_usage.models import DigestDelivery
from apps.extra_usage.services import extra_usage_request_create, extra_usage_request_deny
from apps.extra_usage.tasks import digest_send_daily
from apps.organizations.models import Role
from tests.factories import member

pytestmark = pytest.mark.django_db


def test_digest_goes_once_a_day_to_each_admin_and_above_listing_the_pending_requests(seat_org, outbox):
    org, _, _, std, prem = seat_org
    member(org, email="owner2@ent.example", role=Role.OWNER)
    extra_usage_request_create(membership=std, now=timezone.now())
    extra_usage_request_create(membership=prem, now=timezone.now())
    digest_send_daily()
    digest_send_daily()
    assert sorted(m.to[0] for m in outbox) == ["admin@ent.example", "owner2@ent.example", "owner@ent.example"]
    body = outbox[0].body
    assert "std@ent.example" in body and "prem@ent.example" in body and "Standard seat" in body
    assert f"/orgs/{org.slug}/extra-usage/review/" in body
    assert outbox[0].subject.startswith("2 pending requests")
    with time_machine.travel(timezone.now() + dt.timedelta(days=1)):
        digest_send_daily()
    assert len(outbox) == 6
    assert DigestDelivery.objects.filter(organization=org).count() == 6


def test_no_digest_when_nothing_is_pending(seat_org, outbox):
    _, _, admin, std, _ = seat_org
    request = extra_usage_request_create(membership=std, now=timezone.now())
    extra_usage_request_deny(request=request, actor=admin.user, now=timezone.now(), suppress_notification=True)
    digest_send_daily()
    assert outbox == []
