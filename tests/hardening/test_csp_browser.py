"""The strict Content-Security-Policy holds on the main pages in Chromium: no `securitypolicyviolation` event
and no console error on any of them, while the pages still work (a cap modal opens and saves)."""

import pytest
from playwright.sync_api import expect

from apps.organizations.models import PlanKind, Role
from apps.usage.models import CapScope, SpendCap
from tests.conftest import login, screenshot
from tests.factories import OrganizationFactory, member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Recorded in the page before any of its scripts run, so nothing escapes.
LISTEN = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(
    `${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
});
"""
PAGES = [
    "/orgs/acme/settings/usage/",
    "/orgs/acme/members/",
    "/orgs/acme/usage/dashboard/",
    "/orgs/acme/usage/dashboard/members/",
    "/orgs/acme/usage/me/",
    "/orgs/acme/usage/notifications/",
    "/orgs/acme/extra-usage/",
    "/orgs/acme/extra-usage/review/",
    "/orgs/acme/invoices/",
    "/orgs/acme/settings/admin-api-keys/",
]


@pytest.fixture
def acme(db):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="acme", name="Acme")
    member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER)
    member(org, email="dev@acme.example")
    return org


def watch(page) -> list[str]:
    """Console errors, page errors and failed responses; the browser's own favicon probe is not a page's
    (the site has no favicon yet, which is no policy matter)."""
    problems: list[str] = []
    page.add_init_script(LISTEN)
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text} ({m.location.get('url')})")
            if m.type == "error" and not str(m.location.get("url", "")).endswith("/favicon.ico") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return problems


def violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


def test_login_page_and_main_pages_raise_no_csp_violation(page, acme, live_server):
    problems = watch(page)
    response = page.goto("/accounts/login/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert violations(page) == []
    login(page, "owner@acme.example")
    seen = []
    for path in PAGES:
        response = page.goto(path)
        page.wait_for_load_state("networkidle")
        seen.append((path, response.status))
        found = violations(page)
        assert not found, f"{path}: {found}"
    assert all(status == 200 for _, status in seen), seen
    screenshot(page, "hardening-csp-last-page")
    assert not problems, problems


def test_cap_modal_opens_and_saves_under_the_policy(page, acme):
    problems = watch(page)
    login(page, "owner@acme.example")
    page.goto("/orgs/acme/settings/usage/")
    page.get_by_role("button", name="Adjust limit").click()
    dialog = page.locator("dialog#cap-modal")
    expect(dialog).to_be_visible()
    screenshot(page, "hardening-csp-cap-modal")
    dialog.get_by_label("Monthly limit (USD)").fill("1234.50")
    dialog.get_by_role("button", name="Set limit").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("org-limit")).to_have_text("$1,234.50")
    assert SpendCap.objects.get(scope=CapScope.ORGANIZATION).amount == 1234.5
    assert violations(page) == []
    assert not problems, problems
