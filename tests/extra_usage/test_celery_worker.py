"""The digest and an auto-reload run through a real Celery worker over the Redis broker."""

import os
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from apps.extra_usage.models import ChargeStatus, DigestDelivery, PrepaidCharge
from apps.extra_usage.services.usage_requests import extra_usage_request_create
from apps.extra_usage.tasks import auto_reload_task
from apps.spending.tasks import digest_send_daily
from tests.conftest import celery_worker_running, wait_for

from .conftest import assert_ledger_invariant, ledger_kinds, spend
from .test_prepaid import setup_team

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]

BROKER = os.environ.get("EXTRA_USAGE_TEST_BROKER_URL", "redis://127.0.0.1:6379/3")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(tmp_path):
    """A `celery -A billing_portal worker` on the test database and the Redis broker; this process enqueues to it."""
    with celery_worker_running(tmp_path, BROKER, hostname="eu-test"):
        yield tmp_path


def test_digest_and_auto_reload_run_once_on_a_real_worker(seat_org, team, worker):
    org, _, _, std, prem = seat_org
    spend(org, "std@ent.example", "30.00")  # stopped at their included usage: the requests are still needed
    spend(org, "prem@ent.example", "160.00")
    extra_usage_request_create(membership=std, now=timezone.now())
    extra_usage_request_create(membership=prem, now=timezone.now())
    digest_send_daily.delay()
    digest_send_daily.delay()
    def delivered():
        return DigestDelivery.objects.filter(organization=org).count() == 2  # the owner and the admin

    assert wait_for(delivered, timeout=180), (
        (worker / "worker.log").read_text()[-3000:])

    team_org, owner, _, _ = team
    setup_team(team_org, owner, balance="20.00", threshold="10.00", amount="100.00")
    spend(team_org, "dev@team.example", "25.00")
    spend(team_org, "dev@team.example", "15.00")  # balance $5: its after-usage task goes to the worker
    auto_reload_task.delay(team_org.pk)
    auto_reload_task.delay(team_org.pk)
    assert wait_for(lambda: PrepaidCharge.objects.filter(
        organization=team_org, kind="auto_reload", status=ChargeStatus.SUCCEEDED).exists(), timeout=180), (
        (worker / "worker.log").read_text()[-3000:])
    time.sleep(3)  # let the duplicates run
    assert ledger_kinds(team_org).count("auto_reload") == 1
    assert assert_ledger_invariant(team_org) == Decimal("105")
    mails = list((worker / "mail").glob("*.log"))
    sent = "".join(p.read_text() for p in mails)
    assert sent.count("pending requests for extra usage") == 2
