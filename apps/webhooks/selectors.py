"""Reads for the Settings > Webhooks pages."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from apps.organizations.models import Organization

from .models import DeliveryStatus, WebhookDelivery, WebhookEndpoint


def endpoints_for(*, organization: Organization) -> QuerySet[WebhookEndpoint]:
    """The organization's endpoints with their delivery counts (one query)."""
    return WebhookEndpoint.objects.filter(organization=organization).annotate(
        delivered=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.DELIVERED)),
        failed=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)),
        pending=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.PENDING)),
    ).order_by("created_at", "id")


def endpoints_for_api(*, organization: Organization) -> QuerySet[WebhookEndpoint]:
    """The organization's endpoints, for the Admin API's list (which orders and pages them)."""
    return WebhookEndpoint.objects.filter(organization=organization)


def endpoint_get(*, organization: Organization, public_id: str) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(organization=organization, public_id=public_id).first()


def deliveries_for(*, endpoint: WebhookEndpoint, status: str = "") -> QuerySet[WebhookDelivery]:
    """The endpoint's delivery log, newest first, with each event (for paginating)."""
    rows = WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event").order_by("-created_at", "-id")
    if status in DeliveryStatus.values:
        rows = rows.filter(status=status)
    return rows


def delivery_get(*, endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery | None:
    return (WebhookDelivery.objects.filter(endpoint=endpoint, pk=delivery_id).select_related("event", "endpoint")
            .prefetch_related("attempts").first())
