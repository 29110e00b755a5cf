"""A Celery worker is SIGKILLed while it sends a webhook (after claiming the delivery, before the request). The
event is not lost: once the claim's lease runs out, the sweep hands it to a new worker, which sends it once,
with the same webhook-id and a valid signature.

Real worker and broker (Redis), real receiver on 127.0.0.1; the worker is run by
tests/hardening/worker_with_pause.py, which pauses inside the chosen function so the test can kill it there."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.db import connection
from standardwebhooks.webhooks import Webhook

from apps.webhooks.models import DeliveryStatus, EventType, WebhookDelivery
from apps.webhooks.services import webhook_event_emit
from apps.webhooks.tasks import webhook_deliveries_sweep
from billing_portal.celery import app
from tests.conftest import celery_use_broker, wait_for, worker_env
from tests.webhooks.conftest import endpoint_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]

BROKER = os.environ.get("HARDENING_TEST_BROKER_URL", "redis://127.0.0.1:6379/8")
ROOT = Path(__file__).resolve().parents[2]


def start_worker(tmp_path: Path, name: str, **extra) -> subprocess.Popen:
    env = worker_env(tmp_path, BROKER, HARDENING_PAUSE_DIR=str(tmp_path), PYTHONUNBUFFERED="1",
                     WEBHOOKS_SSRF_GUARD="false", WEBHOOKS_REQUIRE_HTTPS="false",
                     WEBHOOKS_DELIVERY_LEASE_SECONDS="3", **extra)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen([sys.executable, "tests/hardening/worker_with_pause.py"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture
def broker():
    redis.Redis.from_url(BROKER).flushdb()
    eager, url = app.conf.task_always_eager, app.conf.broker_url
    celery_use_broker(BROKER, eager=False)
    yield
    celery_use_broker(url, eager=eager)
    redis.Redis.from_url(BROKER).flushdb()
    connection.close()


def test_a_worker_killed_mid_send_loses_no_event_and_the_resend_keeps_its_webhook_id(tmp_path, broker, org,
                                                                                    receiver):
    endpoint, secret = endpoint_for(org, receiver.url)
    worker = start_worker(tmp_path, "worker-1", HARDENING_PAUSE_AT="apps.webhooks.transport:post")
    try:
        event = webhook_event_emit(organization=org, event_type=EventType.INVOICE_ISSUED,
                                   payload={"number": "BP-2026-10-000001"})  # committed: enqueued to the broker
        assert wait_for(lambda: (tmp_path / "post.paused").exists(), timeout=90), \
            (tmp_path / "worker-1.log").read_text()
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()

    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.status == DeliveryStatus.PENDING and delivery.lease_until is not None
    assert receiver.requests == [] and not delivery.attempts.exists()

    second = start_worker(tmp_path, "worker-2", HARDENING_VISIBILITY="1")
    try:
        # The beat's minute sweep, run here every second: it hands the delivery out again once the lease ends.
        def delivered():
            webhook_deliveries_sweep()
            return WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.DELIVERED

        assert wait_for(delivered, timeout=90, interval=1), (tmp_path / "worker-2.log").read_text()[-3000:]
        time.sleep(2)  # let any duplicate (the redelivered original task) run too
    finally:
        second.terminate()
        second.wait(20)

    [request] = receiver.requests  # sent once
    assert request.headers["webhook-id"] == event.public_id
    assert Webhook(secret).verify(request.body, request.headers)["data"] == {"number": "BP-2026-10-000001"}
    delivery.refresh_from_db()
    assert delivery.attempts.count() == 1 and delivery.attempts.get().status_code == 200
