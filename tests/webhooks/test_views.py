"""Settings > Webhooks: owners create, edit, rotate, test and delete endpoints and read the delivery log; every
change is audited; other roles and organizations get a 404; list pages keep a fixed number of queries."""

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from apps.organizations.models import AuditEntry, Role
from apps.webhooks.models import DeliveryStatus, EventType, WebhookDelivery, WebhookEndpoint
from apps.webhooks.services import webhook_event_emit
from tests.factories import OrganizationFactory, member
from tests.webhooks.conftest import endpoint_for, owner_of

pytestmark = pytest.mark.django_db
BASE = "/orgs/acme/settings/webhooks/"


@pytest.fixture
def owner_client(client, org):
    client.force_login(owner_of(org))
    return client


def test_creating_an_endpoint_shows_its_secret_once_and_is_audited(owner_client, org, receiver):
    response = owner_client.post(BASE, {"url": receiver.url, "description": "Finance",
                                        "events": ["invoice.issued", "invoice.paid"]})
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    page = response.content.decode()
    assert "Copy your signing secret now" in page and endpoint.secret in page
    assert endpoint.events == ["invoice.issued", "invoice.paid"] and endpoint.description == "Finance"
    again = owner_client.get(BASE).content.decode()
    assert endpoint.secret not in again and receiver.url in again
    assert endpoint.secret not in owner_client.get(f"{BASE}{endpoint.public_id}/").content.decode()
    entry = AuditEntry.objects.get(action="webhook_endpoint.create")
    assert entry.actor == owner_of(org) and entry.new_value["events"] == ["invoice.issued", "invoice.paid"]


@pytest.mark.parametrize(("data", "message"), [
    ({"url": "", "events": ["invoice.paid"]}, "This field is required."),
    ({"url": "ftp://example.com/x", "events": ["invoice.paid"]}, "Enter an HTTPS URL"),
    ({"url": "https://example.com/x"}, "Choose at least one event."),
    ({"url": "https://example.com/x", "events": ["invoice.exploded"]}, "Select a valid choice"),
    ({"url": "https://example.com/" + "x" * 600, "events": ["invoice.paid"]}, "at most 500 characters"),
])
def test_bad_input_gets_a_clear_error_and_changes_nothing(owner_client, data, message):
    response = owner_client.post(BASE, data)
    assert response.status_code == 400 and message in response.content.decode()
    assert not WebhookEndpoint.objects.exists() and not AuditEntry.objects.filter(
        action__startswith="webhook").exists()


def test_editing_rotating_and_deleting_are_audited(owner_client, org, receiver):
    endpoint, old_secret = endpoint_for(org, receiver.url)
    url = f"{BASE}{endpoint.public_id}/"
    response = owner_client.post(url, {"url": receiver.url, "events": ["spend.cap_reached"], "enabled": ""})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.events == ["spend.cap_reached"] and not endpoint.enabled
    update = AuditEntry.objects.get(action="webhook_endpoint.update")
    assert update.old_value["enabled"] is True and update.new_value["enabled"] is False
    # Saving the same values again writes nothing.
    owner_client.post(url, {"url": receiver.url, "events": ["spend.cap_reached"]})
    assert AuditEntry.objects.filter(action="webhook_endpoint.update").count() == 1

    rotated = owner_client.post(f"{url}rotate/")
    endpoint.refresh_from_db()
    assert endpoint.secret != old_secret and endpoint.secret in rotated.content.decode()
    assert endpoint.previous_secret == old_secret
    assert AuditEntry.objects.filter(action="webhook_endpoint.rotate_secret").count() == 1

    assert "Delete this endpoint?" in owner_client.get(f"{url}delete/").content.decode()
    assert owner_client.post(f"{url}delete/").status_code == 302
    assert not WebhookEndpoint.objects.exists()
    assert AuditEntry.objects.get(action="webhook_endpoint.delete").old_value["url"] == receiver.url


def test_send_test_event_delivers_a_signed_test_message_and_logs_it(owner_client, org, receiver,
                                                                   django_capture_on_commit_callbacks):
    endpoint, secret = endpoint_for(org, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"{BASE}{endpoint.public_id}/test/")
    assert response.status_code == 302
    [request] = receiver.requests
    assert Webhook(secret).verify(request.body, request.headers)["type"] == "webhook.test"
    log = owner_client.get(f"{BASE}{endpoint.public_id}/").content.decode()
    assert "webhook.test" in log and "Delivered" in log and "HTTP 200" in log


def test_a_failed_delivery_can_be_replayed_from_its_page(owner_client, org, receiver,
                                                         django_capture_on_commit_callbacks):
    endpoint, _ = endpoint_for(org, receiver.url)
    event = webhook_event_emit(organization=org, event_type=EventType.INVOICE_PAID, payload={"number": "BP-9"})
    delivery = event.deliveries.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED)
    page = owner_client.get(f"{BASE}{endpoint.public_id}/deliveries/{delivery.pk}/").content.decode()
    assert "Replay" in page and "BP-9" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"{BASE}{endpoint.public_id}/deliveries/{delivery.pk}/replay/")
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert [r.headers["webhook-id"] for r in receiver.requests] == [event.public_id]
    page = owner_client.get(f"{BASE}{endpoint.public_id}/deliveries/{delivery.pk}/").content.decode()
    assert "HTTP 200" in page and " ms" in page


def test_admins_members_and_other_organizations_get_a_404(client, org):
    endpoint, _ = endpoint_for(org, "https://hooks.example.com/x")
    other = OrganizationFactory(slug="globex")
    outsider = member(other, email="owner@globex.example", role=Role.PRIMARY_OWNER)
    theirs, _ = endpoint_for(other, "https://hooks.example.com/y")
    admin = org.memberships.get(role=Role.ADMIN).user
    client.force_login(admin)
    assert client.get(BASE).status_code == 404
    assert client.get(f"{BASE}{endpoint.public_id}/").status_code == 404
    client.force_login(outsider.user)
    assert client.get(BASE).status_code == 404
    client.force_login(owner_of(org))
    assert client.get(f"{BASE}{theirs.public_id}/").status_code == 404
    assert client.post(f"{BASE}{theirs.public_id}/test/").status_code == 404


def test_the_endpoints_page_keeps_a_fixed_number_of_queries(owner_client, org, django_assert_max_num_queries):
    endpoint_for(org, "https://hooks.example.com/1")
    with django_assert_max_num_queries(8) as few:
        owner_client.get(BASE)
    for n in range(2, 12):
        endpoint, _ = endpoint_for(org, f"https://hooks.example.com/{n}")
        webhook_event_emit(organization=org, event_type=EventType.INVOICE_PAID, payload={})
    with django_assert_max_num_queries(len(few)):
        assert owner_client.get(BASE).status_code == 200


def test_the_delivery_log_keeps_a_fixed_number_of_queries(owner_client, org, django_assert_max_num_queries):
    endpoint, _ = endpoint_for(org, "https://hooks.example.com/1", events=[EventType.INVOICE_PAID])
    webhook_event_emit(organization=org, event_type=EventType.INVOICE_PAID, payload={})
    url = f"{BASE}{endpoint.public_id}/"
    with django_assert_max_num_queries(10) as few:
        owner_client.get(url)
    for _ in range(120):
        webhook_event_emit(organization=org, event_type=EventType.INVOICE_PAID, payload={}, now=timezone.now())
    with django_assert_max_num_queries(len(few) + 1):  # + the paginator's count, now that there are pages
        page = owner_client.get(url).content.decode()
    assert "Page 1 of 3" in page
