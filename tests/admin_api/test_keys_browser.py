"""Settings > Admin API keys in a real Chromium under the strict CSP: create a key, use it, revoke it."""

import re

import anthropic
import pytest

from apps.organizations.models import PlanKind, Role
from tests.conftest import login, screenshot
from tests.factories import OrganizationFactory, member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_primary_owner_creates_uses_and_revokes_a_key_in_the_browser(page, live_server):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="keyco", name="KeyCo")
    member(org, email="owner@keyco.test", role=Role.PRIMARY_OWNER)
    member(org, email="dev@keyco.test")
    violations = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    login(page, "owner@keyco.test")
    page.goto("/orgs/keyco/settings/admin-api-keys/")
    page.fill("input[name=name]", "Finance automation")
    page.check("input[value='write:spend_limits']")
    page.click("button:has-text('Create key')")
    raw = page.input_value("#new-key-value")
    assert re.fullmatch(r"sk-ant-admin01-[A-Za-z0-9_-]{40,}", raw)
    screenshot(page, "admin_api_keys_created")

    client = anthropic.Anthropic(base_url=live_server.url, api_key=raw, max_retries=0)
    rows = client.beta.organization.spend_limits.effective.list().data
    assert {r.actor.email_address for r in rows} == {"owner@keyco.test", "dev@keyco.test"}

    page.goto("/orgs/keyco/settings/admin-api-keys/")
    assert raw not in page.content()
    assert page.locator("td", has_text="Never").count() == 0  # last used is shown once the key was used
    page.click("a:has-text('Revoke')")
    page.click("button:has-text('Revoke key')")
    page.wait_for_url("**/settings/admin-api-keys/")
    assert page.locator(".badge.danger", has_text="Revoked").count() == 1
    screenshot(page, "admin_api_keys_revoked")
    with pytest.raises(anthropic.AuthenticationError):
        client.beta.organization.spend_limits.effective.list()
    assert violations == []
