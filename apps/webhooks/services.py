"""Writes for outgoing webhooks: endpoints (audited), events, deliveries and their attempts.

Rules:
- An event is recorded by `webhook_event_emit` in the transaction of the change it reports, with one delivery
  per enabled endpoint subscribed to its type; the deliveries are enqueued only after that transaction commits,
  so a rolled-back change sends nothing and a committed one is never lost (the minute sweep sends whatever a
  lost enqueue or a dead worker left behind).
- A delivery is attempted until a 2xx, at most until `retry_until` (24 hours after it was queued), waiting
  30 s × 4^(n−1) after the n-th failure (30 s, 2 min, 8 min, 32 min, 2 h 8 min, then every 8 h), with one last
  attempt at the 24-hour mark. Every attempt is logged. The webhook-id never changes.
- An endpoint whose attempts have failed for 3 days without a success in between is disabled; its pending
  deliveries stop and the organization's owners are emailed. An owner can enable it again.
- Secrets are shown once. Rotating one keeps the old secret signing too for 24 hours.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.common.tasks import enqueue_on_commit
from apps.organizations.models import Membership, Organization, Role
from apps.organizations.services import audit_record

from . import payloads, transport
from .models import (
    TEST_EVENT_TYPE,
    DeliveryStatus,
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

RETRY_WINDOW = dt.timedelta(hours=24)
FIRST_RETRY = dt.timedelta(seconds=30)
MAX_RETRY_DELAY = dt.timedelta(hours=8)
DISABLE_AFTER = dt.timedelta(days=3)
ROTATION_OVERLAP = dt.timedelta(hours=24)
MAX_ENDPOINTS = 20
SOON = dt.timedelta(minutes=10)


# --- Endpoints ---------------------------------------------------------------------------------------------------


def _events_validate(events) -> list[str]:
    chosen = set(events or [])
    unknown = chosen - set(EventType.values)
    if unknown:
        raise ValidationError({"events": _("Unknown event: %(names)s.") % {"names": ", ".join(sorted(unknown))}})
    if not chosen:
        raise ValidationError({"events": _("Choose at least one event.")})
    return [e for e in EventType.values if e in chosen]


def _endpoint_state(endpoint: WebhookEndpoint) -> dict:
    return {"url": endpoint.url, "description": endpoint.description, "events": list(endpoint.events),
            "enabled": endpoint.enabled}


@transaction.atomic
def endpoint_create(*, organization: Organization, url: str, description: str = "", events, actor=None,
                    actor_label: str | None = None, now: dt.datetime) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint for the chosen events. Returns it and its signing secret (shown once). Audited (as
    `actor`, or `actor_label` for an Admin API key)."""
    url = (url or "").strip()
    transport.url_check(url)
    events = _events_validate(events)
    if WebhookEndpoint.objects.filter(organization=organization).count() >= MAX_ENDPOINTS:
        raise ValidationError(_("An organization may have at most %(n)d endpoints.") % {"n": MAX_ENDPOINTS})
    secret = transport.secret_new()
    endpoint = WebhookEndpoint.objects.create(
        organization=organization, url=url, description=(description or "").strip(), events=events, secret=secret,
        created_by=actor if getattr(actor, "pk", None) else None, created_at=now, updated_at=now,
    )
    audit_record(organization=organization, actor=actor, actor_label=actor_label, action="webhook_endpoint.create",
                 target=endpoint.public_id, new=_endpoint_state(endpoint), now=now)
    return endpoint, secret


@transaction.atomic
def endpoint_update(*, endpoint: WebhookEndpoint, url: str, description: str = "", events, enabled: bool,
                    actor=None, actor_label: str | None = None, now: dt.datetime) -> WebhookEndpoint:
    """Change an endpoint's URL, description, events or enabled state. Enabling a disabled endpoint clears its
    failure streak. Audited (old → new); nothing is written when nothing changed."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    url = (url or "").strip()
    if url != endpoint.url:
        transport.url_check(url)
    new = {"url": url, "description": (description or "").strip(), "events": _events_validate(events),
           "enabled": bool(enabled)}
    old = _endpoint_state(endpoint)
    if old == new:
        return endpoint
    for name, value in new.items():
        setattr(endpoint, name, value)
    if new["enabled"] and not old["enabled"]:
        endpoint.disabled_at, endpoint.disabled_reason, endpoint.failing_since = None, "", None
    elif not new["enabled"] and old["enabled"]:
        endpoint.disabled_at, endpoint.disabled_reason = now, _("Disabled by an owner")
        _pending_stop(endpoint, reason="Endpoint disabled")
    endpoint.updated_at = now
    endpoint.save()
    audit_record(organization=endpoint.organization, actor=actor, actor_label=actor_label,
                 action="webhook_endpoint.update",
                 target=endpoint.public_id, old=old, new=new, now=now)
    return endpoint


@transaction.atomic
def endpoint_secret_rotate(*, endpoint: WebhookEndpoint, actor=None, actor_label: str | None = None,
                           now: dt.datetime) -> tuple[WebhookEndpoint, str]:
    """Give the endpoint a new secret (returned, shown once). The current one keeps signing alongside it for 24
    hours, so the receiver can switch without missing a message. Audited (never the secrets themselves)."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = transport.secret_new()
    endpoint.previous_secret, endpoint.secret = endpoint.secret, secret
    endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
    endpoint.updated_at = now
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    audit_record(organization=endpoint.organization, actor=actor, actor_label=actor_label,
                 action="webhook_endpoint.rotate_secret",
                 target=endpoint.public_id, new={"previous_secret_expires_at": endpoint.previous_secret_expires_at
                                                 .isoformat()}, now=now)
    return endpoint, secret


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint, actor=None, actor_label: str | None = None,
                    now: dt.datetime) -> None:
    """Delete an endpoint and its delivery log. Audited."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    audit_record(organization=endpoint.organization, actor=actor, actor_label=actor_label,
                 action="webhook_endpoint.delete",
                 target=endpoint.public_id, old=_endpoint_state(endpoint), now=now)
    endpoint.delete()


def signing_secrets(endpoint: WebhookEndpoint, now: dt.datetime) -> list[str]:
    """The secrets that sign a message sent now: the current one, and the previous one during its overlap."""
    result = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        result.append(endpoint.previous_secret)
    return result


# --- Events and deliveries -------------------------------------------------------------------------------------


def _enqueue_after_commit(delivery_ids: list[int], *, countdown: float | None = None) -> None:
    """Queue each delivery once the event's transaction commits (a broker outage: the minute sweep sends it)."""
    for delivery_id in delivery_ids:
        enqueue_on_commit("apps.webhooks.tasks.webhook_deliver", delivery_id, countdown=countdown)


def _deliveries_create(event: WebhookEvent, endpoints: list[WebhookEndpoint], now: dt.datetime) -> list[int]:
    deliveries = WebhookDelivery.objects.bulk_create([
        WebhookDelivery(event=event, endpoint=endpoint, next_attempt_at=now, retry_until=now + RETRY_WINDOW,
                        created_at=now)
        for endpoint in endpoints
    ])
    ids = [d.pk for d in deliveries]
    _enqueue_after_commit(ids)
    return ids


def webhook_event_emit(*, organization: Organization, event_type: str, payload: dict,
                       now: dt.datetime | None = None) -> WebhookEvent | None:
    """Record that `event_type` happened, in the caller's transaction, with one delivery per enabled endpoint
    of the organization subscribed to it; they are sent after that transaction commits. Returns the event, or
    None when no endpoint listens (nothing is written then: one query). The payload gains `organization`."""
    if event_type not in EventType.values:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    endpoints = [e for e in WebhookEndpoint.objects.filter(organization=organization, enabled=True)
                 if e.subscribes_to(event_type)]
    if not endpoints:
        return None
    now = now or timezone.now()
    with transaction.atomic():  # the caller's transaction, or its own when called outside one
        event = WebhookEvent.objects.create(organization=organization, event_type=event_type, created_at=now,
                                            payload={"organization": payloads.organization_ref(organization),
                                                     **payload})
        _deliveries_create(event, endpoints, now)
    return event


@transaction.atomic
def webhook_test_send(*, endpoint: WebhookEndpoint, actor=None, now: dt.datetime) -> WebhookDelivery:
    """"Send test event": a `webhook.test` event to this endpoint only, delivered (and retried) like any other."""
    if not endpoint.enabled:
        raise ValidationError(_("Enable the endpoint before sending it a test event."))
    event = WebhookEvent.objects.create(
        organization=endpoint.organization, event_type=TEST_EVENT_TYPE, created_at=now,
        payload={"organization": payloads.organization_ref(endpoint.organization),
                 "message": "This is a test event from billing_portal.",
                 "sent_by": getattr(actor, "email", None), "endpoint": endpoint.public_id},
    )
    (delivery_id,) = _deliveries_create(event, [endpoint], now)
    return WebhookDelivery.objects.get(pk=delivery_id)


@transaction.atomic
def delivery_replay(*, delivery: WebhookDelivery, actor=None, now: dt.datetime) -> WebhookDelivery:
    """Send a failed delivery again (same webhook-id), with a fresh 24 hours of retries. Audited."""
    delivery = WebhookDelivery.objects.select_for_update().select_related("endpoint", "event").get(pk=delivery.pk)
    if delivery.status != DeliveryStatus.FAILED:
        raise ValidationError(_("Only a failed delivery can be replayed."))
    if not delivery.endpoint.enabled:
        raise ValidationError(_("Enable the endpoint before replaying its deliveries."))
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now
    delivery.retry_until = now + RETRY_WINDOW
    delivery.lease_until = None
    delivery.save(update_fields=["status", "next_attempt_at", "retry_until", "lease_until"])
    audit_record(organization=delivery.endpoint.organization, actor=actor, action="webhook_delivery.replay",
                 target=delivery.event.public_id, new={"endpoint": delivery.endpoint.public_id}, now=now)
    _enqueue_after_commit([delivery.pk])
    return delivery


def retry_delay(failed_attempts: int) -> dt.timedelta:
    """How long to wait after the n-th failed attempt: 30 s × 4^(n−1), at most 8 hours."""
    return min(FIRST_RETRY * 4 ** max(failed_attempts - 1, 0), MAX_RETRY_DELAY)


def next_attempt_at(*, failed_attempts: int, attempted_at: dt.datetime, retry_until: dt.datetime):
    """When to try again after a failure, or None when the 24 hours are used up. A retry that would fall after
    the deadline is moved to it, so the last attempt is made at the 24-hour mark."""
    if attempted_at >= retry_until:
        return None
    return min(attempted_at + retry_delay(failed_attempts), retry_until)


def _lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.WEBHOOKS_DELIVERY_LEASE_SECONDS)


def _claim(delivery_id: int, now: dt.datetime) -> bool:
    """Take the delivery for one attempt (a conditional UPDATE): False when it is not due, already delivered or
    failed, or another worker holds a live lease on it."""
    return bool(
        WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + _lease(), attempt_count=F("attempt_count") + 1)
    )


def request_for(delivery: WebhookDelivery, now: dt.datetime) -> tuple[dict, bytes]:
    """The headers and body of an attempt made now."""
    event = delivery.event
    body = transport.body_encode(msg_id=event.public_id, event_type=event.event_type, created_at=event.created_at,
                                 data=event.payload)
    headers = {
        "content-type": "application/json",
        "user-agent": transport.USER_AGENT,
        "webhook-id": event.public_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": transport.signature_header(secrets_=signing_secrets(delivery.endpoint, now),
                                                        msg_id=event.public_id, timestamp=now, body=body),
    }
    return headers, body


def delivery_attempt(*, delivery_id: int, now: dt.datetime | None = None) -> WebhookAttempt | None:
    """Make one attempt of a due delivery: claim it, send it with no transaction open, then log the attempt and
    decide what follows (module docstring). Returns the attempt, or None when there was nothing to do (not due,
    done, or claimed by another worker). Safe to call twice."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").filter(pk=delivery_id).first()
    if delivery is None:  # its endpoint was deleted meanwhile
        return None
    if not delivery.endpoint.enabled:
        WebhookDelivery.objects.filter(pk=delivery_id).update(status=DeliveryStatus.FAILED, lease_until=None,
                                                              last_error="Endpoint disabled")
        return None
    headers, body = request_for(delivery, now)
    result = transport.post(url=delivery.endpoint.url, headers=headers, body=body)
    return _attempt_record(delivery_id=delivery_id, result=result, now=now)


@transaction.atomic
def _attempt_record(*, delivery_id: int, result: transport.AttemptResult,
                    now: dt.datetime) -> WebhookAttempt | None:
    delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
    if delivery is None:  # the endpoint was deleted while this attempt was in flight
        return None
    endpoint = WebhookEndpoint.objects.select_for_update().select_related("organization").get(pk=delivery.endpoint_id)
    attempt = WebhookAttempt.objects.create(
        delivery=delivery, attempted_at=now, status_code=result.status_code, latency_ms=result.latency_ms,
        response_excerpt=result.response_excerpt, error=result.error, succeeded=result.succeeded,
    )
    delivery.lease_until = None
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error or ("" if result.succeeded else f"HTTP {result.status_code}")
    if result.succeeded:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        if endpoint.failing_since is not None:
            endpoint.failing_since = None
            endpoint.save(update_fields=["failing_since"])
    else:
        delivery.next_attempt_at = next_attempt_at(failed_attempts=delivery.attempt_count, attempted_at=now,
                                                   retry_until=delivery.retry_until)
        if delivery.next_attempt_at is None:
            delivery.status = DeliveryStatus.FAILED
        elif delivery.next_attempt_at - now <= SOON:
            # A near retry is queued for its time; later ones (hours away) are left to the minute sweep, so no
            # message waits in the broker longer than its visibility timeout.
            _enqueue_after_commit([delivery.pk], countdown=(delivery.next_attempt_at - now).total_seconds())
        if endpoint.failing_since is None:
            endpoint.failing_since = now
            endpoint.save(update_fields=["failing_since"])
        elif endpoint.enabled and now - endpoint.failing_since >= DISABLE_AFTER:
            _endpoint_disable_failing(endpoint, now)
            if delivery.status == DeliveryStatus.PENDING:
                delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
    delivery.save(update_fields=["lease_until", "last_status_code", "last_error", "status", "delivered_at",
                                 "next_attempt_at"])
    return attempt


def _pending_stop(endpoint: WebhookEndpoint, *, reason: str) -> None:
    WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED, next_attempt_at=None, last_error=reason)


def owner_emails(organization: Organization) -> list[str]:
    return sorted(Membership.objects.active().filter(organization=organization,
                                                     role__in=[Role.PRIMARY_OWNER, Role.OWNER])
                  .values_list("user__email", flat=True))


def _endpoint_disable_failing(endpoint: WebhookEndpoint, now: dt.datetime) -> None:
    """Disable an endpoint that has failed for DISABLE_AFTER, stop its pending deliveries, audit it and email
    the owners after commit."""
    endpoint.enabled = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = _("Every delivery failed for 3 days")
    endpoint.updated_at = now
    endpoint.save(update_fields=["enabled", "disabled_at", "disabled_reason", "updated_at"])
    _pending_stop(endpoint, reason="Endpoint disabled")
    audit_record(organization=endpoint.organization, actor=None, actor_label="webhooks (failing for 3 days)",
                 action="webhook_endpoint.disable", target=endpoint.public_id,
                 old={"enabled": True}, new={"enabled": False, "failing_since": endpoint.failing_since.isoformat()},
                 now=now)
    organization = endpoint.organization
    context = {
        "organization": organization, "endpoint": endpoint,
        "url": settings.SITE_URL.rstrip("/") + reverse(
            "webhooks:endpoint_detail", kwargs={"slug": organization.slug, "public_id": endpoint.public_id}),
    }
    subject = _("Webhook endpoint disabled in %(org)s: %(url)s") % {"org": organization.name, "url": endpoint.url}
    body = render_to_string("webhooks/email/endpoint_disabled.txt", context)
    recipients = owner_emails(organization)
    if recipients:
        transaction.on_commit(lambda: send_mail(subject, body, None, recipients))


def deliveries_due(*, now: dt.datetime, limit: int = 1000) -> list[int]:
    """Pending deliveries whose attempt is due and not held by a live lease (a lost enqueue, a retry whose time
    came, or a worker that died mid-attempt)."""
    return list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    )
