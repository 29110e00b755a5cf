"""Events reach a real HTTP server on 127.0.0.1, signed per Standard Webhooks; failures are retried with the same
webhook-id on the documented schedule for 24 hours; an endpoint failing for 3 days is disabled."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from apps.organizations.models import AuditEntry
from apps.webhooks.models import DeliveryStatus, EventType, WebhookAttempt, WebhookDelivery, WebhookEvent
from apps.webhooks.services import (
    delivery_attempt,
    delivery_replay,
    endpoint_secret_rotate,
    next_attempt_at,
    retry_delay,
    webhook_event_emit,
)
from tests.webhooks.conftest import endpoint_for

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.UTC)


def verify(secret: str, request) -> dict:
    return Webhook(secret).verify(request.body, request.headers)


def test_an_event_is_delivered_after_commit_signed_and_verifiable(org, receiver, django_capture_on_commit_callbacks):
    endpoint, secret = endpoint_for(org, receiver.url)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event = webhook_event_emit(organization=org, event_type=EventType.INVOICE_ISSUED,
                                   payload={"number": "BP-1", "total": "12.50"})
        assert receiver.requests == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()

    [request] = receiver.requests
    body = verify(secret, request)
    assert body == {"id": event.public_id, "type": "invoice.issued", "timestamp": body["timestamp"],
                    "data": {"organization": {"id": org.pk, "slug": "acme"}, "number": "BP-1", "total": "12.50"}}
    assert request.headers["webhook-id"] == event.public_id
    assert request.headers["content-type"] == "application/json"
    delivery = WebhookDelivery.objects.get(event=event, endpoint=endpoint)
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempt_count == 1
    [attempt] = delivery.attempts.all()
    assert attempt.succeeded and attempt.status_code == 200 and attempt.response_excerpt == '{"ok": true}'
    assert attempt.latency_ms >= 0


def test_a_rolled_back_change_records_and_sends_nothing(org, receiver, django_capture_on_commit_callbacks):
    endpoint_for(org, receiver.url)
    with (django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError),
          transaction.atomic()):
        webhook_event_emit(organization=org, event_type=EventType.INVOICE_PAID, payload={})
        raise RuntimeError("the change failed")
    assert callbacks == [] and receiver.requests == []
    assert not WebhookEvent.objects.exists()


def test_only_enabled_endpoints_subscribed_to_the_type_get_a_delivery(org, receiver,
                                                                       django_capture_on_commit_callbacks):
    spend, _ = endpoint_for(org, receiver.url + "/spend", events=[EventType.SPEND_CAP_REACHED])
    invoices, _ = endpoint_for(org, receiver.url + "/invoices", events=[EventType.INVOICE_ISSUED])
    off, _ = endpoint_for(org, receiver.url + "/off", events=[EventType.SPEND_CAP_REACHED])
    off.enabled = False
    off.save()
    with django_capture_on_commit_callbacks(execute=True):
        webhook_event_emit(organization=org, event_type=EventType.SPEND_CAP_REACHED, payload={"scope": "org_cap"})
    assert [r.path for r in receiver.requests] == ["/hooks/spend"]
    assert list(WebhookDelivery.objects.values_list("endpoint", flat=True)) == [spend.pk]


def test_no_listener_means_nothing_is_written(org, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert webhook_event_emit(organization=org, event_type=EventType.INVOICE_PAID, payload={}) is None
    assert not WebhookEvent.objects.exists()


def test_unknown_event_type_is_a_programming_error(org):
    with pytest.raises(ValueError, match="unknown webhook event type"):
        webhook_event_emit(organization=org, event_type="invoice.exploded", payload={})


def _emit_pending(org, url, now):
    endpoint, secret = endpoint_for(org, url, now=now)
    with time_machine.travel(now, tick=False):
        event = webhook_event_emit(organization=org, event_type=EventType.PREPAID_RELOAD_FAILED,
                                   payload={"amount": "40.00"}, now=now)
    return endpoint, secret, WebhookDelivery.objects.get(event=event)


def test_a_failed_attempt_is_retried_later_with_the_same_webhook_id_and_each_attempt_logged(org, receiver):
    receiver.statuses = [500, 200]
    _, secret, delivery = _emit_pending(org, receiver.url, T0)

    with time_machine.travel(T0, tick=False):
        first = delivery_attempt(delivery_id=delivery.pk, now=T0)
        verify(secret, receiver.requests[0])
    assert not first.succeeded and first.status_code == 500
    assert first.response_excerpt.startswith("upstream exploded") and len(first.response_excerpt) == 500
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at == T0 + dt.timedelta(seconds=30)
    # Not due yet: nothing is sent.
    assert delivery_attempt(delivery_id=delivery.pk, now=T0 + dt.timedelta(seconds=29)) is None

    later = T0 + dt.timedelta(seconds=30)
    with time_machine.travel(later, tick=False):
        second = delivery_attempt(delivery_id=delivery.pk, now=later)
        verify(secret, receiver.requests[1])
    assert second.succeeded
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert ids == {delivery.event.public_id}
    assert [r.headers["webhook-timestamp"] for r in receiver.requests] == [str(int(T0.timestamp())),
                                                                         str(int(later.timestamp()))]
    assert receiver.requests[0].body == receiver.requests[1].body
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempt_count == 2
    assert list(delivery.attempts.order_by("attempted_at").values_list("status_code", "succeeded")) == [
        (500, False), (200, True)]
    # Running the task again (a redelivered message) sends nothing more.
    assert delivery_attempt(delivery_id=delivery.pk, now=later + dt.timedelta(hours=1)) is None
    assert len(receiver.requests) == 2


def test_retry_schedule_is_exponential_and_ends_with_an_attempt_at_the_24_hour_mark(org, receiver):
    assert [retry_delay(n) for n in range(1, 8)] == [
        dt.timedelta(seconds=30), dt.timedelta(minutes=2), dt.timedelta(minutes=8), dt.timedelta(minutes=32),
        dt.timedelta(hours=2, minutes=8), dt.timedelta(hours=8), dt.timedelta(hours=8)]
    receiver.statuses = [503]
    _, _, delivery = _emit_pending(org, receiver.url, T0)
    times = []
    while True:
        delivery.refresh_from_db()
        if delivery.status != DeliveryStatus.PENDING:
            break
        at = delivery.next_attempt_at
        with time_machine.travel(at, tick=False):
            assert delivery_attempt(delivery_id=delivery.pk, now=at) is not None
        times.append(at - T0)
    assert times == [dt.timedelta(0), dt.timedelta(seconds=30), dt.timedelta(minutes=2, seconds=30),
                     dt.timedelta(minutes=10, seconds=30), dt.timedelta(minutes=42, seconds=30),
                     dt.timedelta(hours=2, minutes=50, seconds=30), dt.timedelta(hours=10, minutes=50, seconds=30),
                     dt.timedelta(hours=18, minutes=50, seconds=30), dt.timedelta(hours=24)]
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempt_count == 9
    assert WebhookAttempt.objects.filter(delivery=delivery, succeeded=False).count() == 9
    assert next_attempt_at(failed_attempts=9, attempted_at=T0 + dt.timedelta(hours=24),
                           retry_until=T0 + dt.timedelta(hours=24)) is None


def test_a_failed_delivery_is_replayed_with_the_same_webhook_id(org, receiver):
    receiver.statuses = [500]
    _, secret, delivery = _emit_pending(org, receiver.url, T0)
    delivery.retry_until = T0  # retries used up
    delivery.save()
    delivery_attempt(delivery_id=delivery.pk, now=T0)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED

    receiver.statuses = [200]
    later = T0 + dt.timedelta(days=2)
    delivery_replay(delivery=delivery, actor=org.memberships.first().user, now=later)
    with time_machine.travel(later, tick=False):
        delivery_attempt(delivery_id=delivery.pk, now=later)
        verify(secret, receiver.requests[-1])
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.event.public_id] * 2
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert AuditEntry.objects.filter(action="webhook_delivery.replay").count() == 1
    with pytest.raises(ValidationError):
        delivery_replay(delivery=delivery, now=later)  # only failed deliveries


def test_an_endpoint_failing_for_three_days_is_disabled_and_its_owners_emailed(org, receiver, outbox,
                                                                               django_capture_on_commit_callbacks):
    receiver.statuses = [500]
    endpoint, _, first = _emit_pending(org, receiver.url, T0)
    delivery_attempt(delivery_id=first.pk, now=T0)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since == T0

    # Events keep coming and keep failing: just under 3 days, still enabled.
    almost = T0 + dt.timedelta(days=3) - dt.timedelta(minutes=1)
    event = webhook_event_emit(organization=org, event_type=EventType.INVOICE_ISSUED, payload={}, now=almost)
    delivery_attempt(delivery_id=event.deliveries.get().pk, now=almost)
    endpoint.refresh_from_db()
    assert endpoint.enabled and outbox == []

    three_days = T0 + dt.timedelta(days=3)
    event = webhook_event_emit(organization=org, event_type=EventType.INVOICE_ISSUED, payload={}, now=three_days)
    with django_capture_on_commit_callbacks(execute=True):
        delivery_attempt(delivery_id=event.deliveries.get().pk, now=three_days)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_at == three_days
    assert not WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).exists()
    [email] = outbox
    assert sorted(email.to) == ["owner2@acme.example", "owner@acme.example"]
    assert receiver.url in email.subject and "failed for 3 days" in email.body
    assert AuditEntry.objects.filter(action="webhook_endpoint.disable", target=endpoint.public_id).count() == 1
    # A disabled endpoint gets no new events.
    assert webhook_event_emit(organization=org, event_type=EventType.INVOICE_ISSUED, payload={}) is None


def test_a_success_ends_the_failure_streak(org, receiver):
    receiver.statuses = [500, 200, 500]
    endpoint, _, first = _emit_pending(org, receiver.url, T0)
    delivery_attempt(delivery_id=first.pk, now=T0)
    delivery_attempt(delivery_id=first.pk, now=T0 + dt.timedelta(minutes=1))
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None
    later = T0 + dt.timedelta(days=3, hours=1)
    event = webhook_event_emit(organization=org, event_type=EventType.INVOICE_ISSUED, payload={}, now=later)
    delivery_attempt(delivery_id=event.deliveries.get().pk, now=later)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since == later


def test_after_rotation_both_secrets_sign_for_24_hours_then_only_the_new_one(org, receiver):
    endpoint, old_secret = endpoint_for(org, receiver.url, now=T0)
    endpoint, new_secret = endpoint_secret_rotate(endpoint=endpoint, actor=None, now=T0)
    assert new_secret != old_secret and new_secret.startswith("whsec_")
    assert AuditEntry.objects.filter(action="webhook_endpoint.rotate_secret").count() == 1
    assert old_secret not in str(AuditEntry.objects.values_list("new_value", flat=True))

    def send(at):
        event = webhook_event_emit(organization=org, event_type=EventType.INVOICE_PAID, payload={}, now=at)
        with time_machine.travel(at, tick=False):
            delivery_attempt(delivery_id=event.deliveries.get().pk, now=at)
        return receiver.requests[-1]

    during = T0 + dt.timedelta(hours=23, minutes=59)
    request = send(during)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    with time_machine.travel(during, tick=False):
        verify(old_secret, request)
        verify(new_secret, request)

    after = T0 + dt.timedelta(hours=24)
    request = send(after)
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    with time_machine.travel(after, tick=False):
        verify(new_secret, request)
        with pytest.raises(WebhookVerificationError):
            verify(old_secret, request)


def test_a_near_retry_is_queued_for_its_time_and_a_far_one_left_to_the_sweep(org, receiver, monkeypatch,
                                                                              django_capture_on_commit_callbacks):
    from apps.webhooks.tasks import webhook_deliver, webhook_deliveries_sweep

    queued = []
    monkeypatch.setattr(webhook_deliver, "apply_async", lambda args, countdown=None: queued.append((args, countdown)))
    receiver.statuses = [500]
    _, _, delivery = _emit_pending(org, receiver.url, T0)
    with django_capture_on_commit_callbacks(execute=True):
        delivery_attempt(delivery_id=delivery.pk, now=T0)
    assert queued == [((delivery.pk,), 30.0)]

    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempt_count=5, next_attempt_at=T0)
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        delivery_attempt(delivery_id=delivery.pk, now=T0)  # the 6th failure: next try in 8 hours
    assert queued == []
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == T0 + dt.timedelta(hours=8)
    with time_machine.travel(T0 + dt.timedelta(hours=8), tick=False):
        assert webhook_deliveries_sweep() == 1  # the beat's sweep hands it out when due
    assert queued == [((delivery.pk,), None)]
