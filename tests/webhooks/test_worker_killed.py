"""A Celery worker is SIGKILLed while it sends a webhook (after claiming the delivery, before the request). The
event is not lost: once the claim's lease runs out, the sweep hands it to a new worker, which sends it once,
with the same webhook-id and a valid signature.

Real worker and broker (Redis), real receiver on 127.0.0.1; the worker is run by
tests/hardening/worker_with_pause.py, which pauses inside the chosen function so the test can kill it there."""

import signal
import time

import pytest
from standardwebhooks.webhooks import Webhook

from apps.webhooks.models import DeliveryStatus, EventType, WebhookDelivery
from apps.webhooks.services import webhook_event_emit
from apps.webhooks.tasks import webhook_deliveries_sweep
from tests.conftest import start_pausing_worker, wait_for
from tests.webhooks.conftest import endpoint_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]


# Deliveries go to the receiver on 127.0.0.1 over plain HTTP; a short lease so the resend comes soon after the kill.
WORKER_ENV = {"OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1/32", "WEBHOOKS_REQUIRE_HTTPS": "false",
              "WEBHOOKS_DELIVERY_LEASE_SECONDS": "3"}


def test_a_worker_killed_mid_send_loses_no_event_and_the_resend_keeps_its_webhook_id(tmp_path, pausing_broker, org,
                                                                                    receiver):
    endpoint, secret = endpoint_for(org, receiver.url)
    worker = start_pausing_worker(tmp_path, "worker-1", HARDENING_PAUSE_AT="apps.webhooks.transport:post", **WORKER_ENV)
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

    second = start_pausing_worker(tmp_path, "worker-2", HARDENING_VISIBILITY="1", **WORKER_ENV)
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
    assert Webhook(secret).verify(request.body, request.headers)["data"] == {
        "organization": {"id": org.pk, "slug": org.slug}, "number": "BP-2026-10-000001"}
    delivery.refresh_from_db()
    assert delivery.attempts.count() == 1 and delivery.attempts.get().status_code == 200
