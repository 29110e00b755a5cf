"""Settings > Webhooks in a real Chromium under the strict CSP: add an endpoint, copy the secret shown once,
send a test event to a real server on 127.0.0.1 and find it in the delivery log."""

import pytest
from standardwebhooks.webhooks import Webhook

from apps.organizations.models import PlanKind, Role
from tests.conftest import login, screenshot, wait_for
from tests.factories import OrganizationFactory, member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_adds_an_endpoint_sends_a_test_event_and_reads_the_delivery_log(page, live_server, receiver):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="hookco", name="HookCo")
    member(org, email="owner@hookco.test", role=Role.PRIMARY_OWNER)
    violations = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    login(page, "owner@hookco.test")
    page.goto("/orgs/hookco/")
    page.click("nav.sidebar a:has-text('Webhooks')")
    page.fill("input[name=url]", receiver.url)
    page.fill("input[name=description]", "Finance system")
    page.check("input[value='invoice.issued']")
    page.check("input[value='spend.cap_reached']")
    page.click("button:has-text('Add endpoint')")
    secret = page.input_value("#new-secret-value")
    assert secret.startswith("whsec_")
    screenshot(page, "webhooks_endpoint_created")

    page.reload()
    assert secret not in page.content()  # shown once
    page.click(f"a:has-text('{receiver.url}')")
    page.click("button:has-text('Send test event')")
    page.wait_for_selector("text=Test event sent.")
    assert wait_for(lambda: len(receiver.requests) == 1, timeout=10)
    [request] = receiver.requests
    assert Webhook(secret).verify(request.body, request.headers)["type"] == "webhook.test"

    page.reload()
    row = page.locator("#delivery-log tbody tr").first
    assert "webhook.test" in row.inner_text() and "Delivered" in row.inner_text()
    assert request.headers["webhook-id"] in row.inner_text()
    row.locator("a").click()
    assert "HTTP 200" in page.locator("#attempts").inner_text()
    screenshot(page, "webhooks_delivery_log")
    assert violations == []
