"""Outside tests, an endpoint URL must be HTTPS and resolve only to public addresses: checked when it is saved
and again before every request."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.webhooks.models import DeliveryStatus, EventType, WebhookEndpoint
from apps.webhooks.services import delivery_attempt, endpoint_create, webhook_event_emit
from tests.webhooks.conftest import endpoint_for, owner_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def guard(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    settings.WEBHOOKS_REQUIRE_HTTPS = True


def _create(org, url):
    return endpoint_create(organization=org, url=url, events=[EventType.INVOICE_PAID], actor=owner_of(org),
                           now=timezone.now())


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hooks", "https://localhost/hooks", "https://10.1.2.3/", "https://192.168.0.10:8443/x",
    "https://172.16.5.4/", "https://169.254.169.254/latest/meta-data", "https://[::1]/", "https://0.0.0.0/",
    "https://[::ffff:127.0.0.1]/", "https://100.64.0.1/", "https://[fd00::1]/",
])
def test_private_and_loopback_addresses_are_refused(org, guard, url):
    with pytest.raises(ValidationError, match="private or local network address"):
        _create(org, url)
    assert not WebhookEndpoint.objects.exists()


def test_plain_http_and_credentials_are_refused(org, guard):
    with pytest.raises(ValidationError, match="Enter an HTTPS URL"):
        _create(org, "http://93.184.215.14/hooks")
    with pytest.raises(ValidationError, match="user name and password"):
        _create(org, "https://user:pw@93.184.215.14/hooks")


def test_a_public_https_address_is_accepted(org, guard):
    endpoint, _ = _create(org, "https://93.184.215.14/hooks")
    assert endpoint.url == "https://93.184.215.14/hooks"


def test_the_guard_is_checked_again_before_each_request(org, receiver, settings):
    endpoint, _ = endpoint_for(org, receiver.url)  # saved while the allow-list opened 127.0.0.1 (as in tests)
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    event = webhook_event_emit(organization=org, event_type=EventType.INVOICE_PAID, payload={})
    attempt = delivery_attempt(delivery_id=event.deliveries.get().pk)
    assert receiver.requests == []
    assert not attempt.succeeded and attempt.status_code is None and "private or local" in attempt.error
    assert event.deliveries.get().status == DeliveryStatus.PENDING  # retried later, like any failure


def test_the_settings_page_shows_the_refusal_and_saves_nothing(org, guard, client):
    client.force_login(owner_of(org))
    response = client.post("/orgs/acme/settings/webhooks/", {"url": "https://127.0.0.1/hooks",
                                                              "events": ["invoice.paid"]})
    assert response.status_code == 400
    assert "private or local network address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
