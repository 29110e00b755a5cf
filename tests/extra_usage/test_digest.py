"""The daily digest of pending requests: one email per admin and above, once a day, none when nothing pends."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from apps.extra_usage.models import DigestDelivery
from apps.extra_usage.services.digest import digest_send_for_organization as _digest_send_for_organization
from apps.extra_usage.services.usage_requests import extra_usage_request_create, extra_usage_request_deny
from apps.organizations.models import Role
from apps.spending.tasks import digest_send_daily as _digest_send_daily
from tests.factories import member

from .conftest import spend

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _capture(django_capture_on_commit_callbacks):
    global _on_commit
    _on_commit = django_capture_on_commit_callbacks


def _delivered(call):
    """Emails are queued in the digest's transaction and delivered after commit (apps.notices)."""
    def run(*args, **kwargs):
        with _on_commit(execute=True):
            return call(*args, **kwargs)
    return run


digest_send_daily = _delivered(_digest_send_daily)
digest_send_for_organization = _delivered(_digest_send_for_organization)


def test_digest_goes_once_a_day_to_each_admin_and_above_listing_the_pending_requests(seat_org, outbox):
    org, _, _, std, prem = seat_org
    member(org, email="owner2@ent.example", role=Role.OWNER)
    spend(org, "std@ent.example", "30.00")  # both past their included usage: still stopped, still pending
    spend(org, "prem@ent.example", "160.00")
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


def test_a_claim_left_unsent_by_a_dead_worker_is_sent_by_a_later_run_once(seat_org, outbox):
    """A worker that died after claiming an admin's digest and before sending it loses nothing: once the
    claim's lease has run out, the next run sends it, and a run after that sends nothing."""
    org, owner, admin, std, _ = seat_org
    now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    extra_usage_request_create(membership=std, now=now)
    DigestDelivery.objects.create(organization=org, membership=admin, day=now.date(),
                                  pending_count=1, created_at=now - dt.timedelta(minutes=2))

    digest_send_for_organization(organization=org, now=now)  # the dead worker's claim is still live
    assert [m.to[0] for m in outbox if m.to[0] == admin.user.email] == []

    later = now + dt.timedelta(minutes=11)
    digest_send_for_organization(organization=org, now=later)
    digest_send_for_organization(organization=org, now=later + dt.timedelta(minutes=30))
    assert [m.to[0] for m in outbox].count(admin.user.email) == 1
    assert [m.to[0] for m in outbox].count(owner.user.email) == 1
    assert DigestDelivery.objects.get(membership=admin).sent_at == later
