"""The console on a phone, and under its Content-Security-Policy (issue 24).

Every console page is opened at 390 px wide (an iPhone 12-15): the document is never wider than the screen (the
sidebar folds behind a menu button, wide tables scroll inside their card), and no page logs a console error or a
CSP violation, at that width or on a desktop. The header's account menu leads to the person's own security page
(password and two-factor); the auto-reload modal re-rendered with an error keeps the policy."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.common import outbound
from apps.invoicing.services import invoice_issue_for_period
from apps.organizations.models import Membership, PlanKind, Role
from apps.usage.models import CapScope
from apps.usage.services import cap_set
from apps.webhooks.services import endpoint_create
from tests.conftest import login, screenshot
from tests.extra_usage.conftest import spend
from tests.extra_usage.test_prepaid import setup_team
from tests.factories import OrganizationFactory, member
from tests.hardening.test_csp_browser import violations, watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}
LONG_EMAIL = "a-rather-long-address.for-a-phone-screen@acme-team.example"


@pytest.fixture
def world(settings, provider, monkeypatch):
    """A Team organization with a prepaid balance, members, spend, caps and a webhook endpoint, and a seat-based
    Enterprise organization with an invoice, both owned by the same person (so the switcher shows)."""
    check = outbound.check_url_host  # the endpoint's `*.example` host does not resolve here: saved as public
    monkeypatch.setattr(outbound, "check_url_host",
                        lambda host, port: None if host.endswith(".example") else check(host, port))
    since = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    team = OrganizationFactory(plan_kind=PlanKind.TEAM, slug="acme", name="Acme Team With A Long Name")
    owner = member(team, email="owner@acme.example", role=Role.PRIMARY_OWNER, since=since)
    member(team, email=LONG_EMAIL, tier_code="standard", since=since)
    for i in range(6):
        member(team, email=f"member{i}@acme.example", tier_code="premium" if i % 2 else "standard", since=since)
    setup_team(team, owner)
    spend(team, LONG_EMAIL, "31.25")
    cap_set(organization=team, scope=CapScope.ORGANIZATION, amount=Decimal("5000"), now=timezone.now())
    endpoint, _ = endpoint_create(organization=team, url="https://hooks.acme-team.example/a/rather/long/path/in",
                                  events=["invoice.issued", "spend.cap_reached"], now=timezone.now())
    ent = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="ent", name="Enterprise")
    Membership.objects.create(organization=ent, user=owner.user, role=Role.PRIMARY_OWNER)
    member(ent, email="dev@ent.example", tier_code="standard", since=since)
    invoice = invoice_issue_for_period(organization=ent, period_start=dt.date(2026, 10, 1),
                                       now=dt.datetime(2026, 11, 1, 1, tzinfo=dt.UTC))
    dev = team.memberships.get(user__email=LONG_EMAIL)
    return {"endpoint": endpoint.public_id, "invoice": invoice.number, "member": dev.pk}


def console_pages(world) -> list[str]:
    t, e = "/orgs/acme", "/orgs/ent"
    return [
        f"{t}/settings/usage/", f"{t}/members/", f"{t}/usage/dashboard/", f"{t}/usage/dashboard/tiers/",
        f"{t}/usage/dashboard/members/", f"{t}/usage/dashboard/members/{world['member']}/", f"{t}/usage/me/",
        f"{t}/usage/notifications/", f"{t}/extra-usage/", f"{t}/extra-usage/review/", f"{t}/extra-usage/mine/",
        f"{t}/invoices/", f"{t}/invoices/billing-details/", f"{t}/settings/webhooks/",
        f"{t}/settings/webhooks/{world['endpoint']}/", f"{t}/settings/audit-log/", f"{t}/settings/prices/",
        f"{t}/settings/language/", f"{t}/settings/security/", f"{t}/billing/history/",
        f"{e}/settings/usage/", f"{e}/settings/admin-api-keys/", f"{e}/invoices/", f"{e}/invoices/{world['invoice']}/",
        "/notifications/", "/accounts/security/", "/accounts/password/change/",
    ]


def walk(page, pages: list[str]) -> dict[str, int]:
    """Open each page; return the document's width on each (and fail on a page that is not a 200)."""
    widths = {}
    for path in pages:
        response = page.goto(path)
        assert response.status == 200, (path, response.status)
        page.wait_for_load_state("networkidle")
        widths[path] = page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
        found = violations(page)
        assert not found, f"{path}: {found}"
    return widths


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_every_console_page_fits_a_390px_phone_without_errors(phone, world):
    problems = watch(phone)
    login(phone, "owner@acme.example")
    widths = walk(phone, console_pages(world))
    too_wide = {path: width for path, width in widths.items() if width > PHONE["width"]}
    assert not too_wide, too_wide
    assert not problems, problems
    # The members table is wider than the phone: it scrolls inside its card, and the page does not.
    phone.goto("/orgs/acme/members/")
    table = phone.locator("table.data").first
    assert table.evaluate("t => t.scrollWidth > t.clientWidth && getComputedStyle(t).overflowX === 'auto'")
    screenshot(phone, "console-phone-members")


def test_the_sidebar_folds_behind_the_menu_button_on_a_phone(phone, world):
    login(phone, "owner@acme.example")
    phone.goto("/orgs/acme/settings/usage/")
    sidebar = phone.locator("nav#sidebar")
    toggle = phone.get_by_role("button", name="Menu")
    expect(sidebar).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(sidebar).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    screenshot(phone, "console-phone-menu-open")
    sidebar.get_by_role("link", name="Members").click()
    expect(phone).to_have_url(re.compile(r"/orgs/acme/members/$"))
    expect(phone.locator("nav#sidebar")).to_be_hidden()


def test_the_account_menu_leads_to_password_and_two_factor(page, world):
    problems = watch(page)
    login(page, "owner@acme.example")
    page.goto("/orgs/acme/settings/usage/")
    menu = page.locator("details.account-menu")
    expect(menu.get_by_role("link", name="Password and two-factor")).to_be_hidden()
    menu.locator("summary").click()
    menu.get_by_role("link", name="Password and two-factor").click()
    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Change password")).to_be_visible()
    expect(page.get_by_role("link", name="Set up two-factor authentication")).to_be_visible()
    assert not problems, problems


def test_every_console_page_on_a_desktop_raises_no_error(page, world):
    problems = watch(page)
    login(page, "owner@acme.example")
    walk(page, console_pages(world))
    assert not problems, problems


def test_the_auto_reload_modal_rerendered_with_an_error_keeps_the_policy(page, world):
    """The modal is swapped in place (outerHTML of the open <dialog>) when the form comes back with an error;
    the swap must not need an inline style, and the dialog stays open and usable."""
    problems = watch(page)
    login(page, "owner@acme.example")
    page.goto("/orgs/acme/settings/usage/")
    page.get_by_role("button", name="Set up auto-reload").click()
    dialog = page.locator("dialog#auto-reload[open]")
    dialog.wait_for()
    dialog.get_by_label("Reload amount").fill("")  # on, with no amount: refused by the server
    dialog.get_by_role("button", name="Save auto-reload").click()
    expect(dialog.locator(".errorlist").first).to_be_visible()
    screenshot(page, "console-auto-reload-error")
    dialog.get_by_label("Reload amount").fill("60")
    dialog.get_by_role("button", name="Save auto-reload").click()
    expect(page.locator("dialog#auto-reload")).to_have_count(0)
    assert violations(page) == []
    assert not problems, problems
