"""The interactive API docs render with the network cut off but for the portal itself (issue 24): Swagger UI
comes from our own static files, under the Content-Security-Policy, and lists every operation of the machine
API, the Admin API (spend limits, analytics, webhook endpoints) and the webhook events."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from apps.webhooks.models import EventType
from tests.conftest import screenshot
from tests.hardening.test_csp_browser import violations, watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser, live_server):
    """A tab without the root fixture's axe-core check: the operations' markup is Swagger UI's own (it nests
    its expand button in the summary button, which axe reports), not our templates'."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()

PAGES = {
    "/api/v1/docs": ["/api/v1/admission", "/api/v1/usage", "/api/v1/usage/batch"],
    "/v1/organizations/docs": ["/v1/organizations/spend_limits/effective", "/v1/organizations/spend_limits",
                               "/v1/organizations/spend_limit_increase_requests/{request_id}/approve",
                               "/v1/organizations/analytics/cost", "/v1/organizations/analytics/user_usage_report",
                               "/v1/organizations/webhooks", "/v1/organizations/webhooks/{webhook_endpoint_id}",
                               "/v1/organizations/webhooks/{webhook_endpoint_id}/regenerate_signing_secret"],
    "/api/webhooks/docs": list(EventType.values),
}


def block_the_network(page, live_server) -> list[str]:
    """Abort every request that is not to the live server; return the list of what was tried."""
    local = urlsplit(live_server.url).netloc
    tried: list[str] = []

    def route(r):
        if urlsplit(r.request.url).netloc == local:
            r.continue_()
        else:
            tried.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return tried


@pytest.mark.parametrize("path", list(PAGES))
def test_docs_page_lists_its_operations_offline(page, live_server, path):
    problems = watch(page)
    tried = block_the_network(page, live_server)
    response = page.goto(path)
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    ui = page.locator("#swagger-ui")
    for operation in PAGES[path]:
        expect(ui.locator(".opblock-summary-path, .opblock-summary-operation-id, .opblock-summary-method + *",
                          has_text=operation).first).to_be_visible()
    # Opening an operation renders its schemas and examples (syntax-highlighted) under the same policy.
    ui.locator(".opblock-summary-control").first.click()
    expect(ui.locator(".opblock-body").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    screenshot(page, "api-docs" + path.replace("/", "-"))
    assert tried == []
    assert violations(page) == []
    assert not problems, problems
