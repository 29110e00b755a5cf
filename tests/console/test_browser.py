"""Settings > Usage and Members in the OS Chromium: modals, validation inside them, the upgrade confirmation,
and the audit rows each change leaves under Recent changes. Screenshots: test-output/screenshots/console-*.png.
"""

import re

import pytest
from playwright.sync_api import expect

from apps.organizations.models import PlanKind, Role
from apps.seats.selectors import seat_current
from apps.usage.models import CapScope, SpendCap
from tests.conftest import login, screenshot
from tests.factories import OrganizationFactory, member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def org(db):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="globex", name="Globex")
    member(org, email="owner@globex.test", role=Role.PRIMARY_OWNER)
    member(org, email="admin@globex.test", role=Role.ADMIN)
    for i in range(3):
        member(org, email=f"member{i}@globex.test")
    return org


def recent_changes(page):
    return page.locator("#recent-changes")


def test_owner_sets_and_clears_the_org_cap(page, org):
    login(page, "owner@globex.test")
    page.goto("/orgs/globex/settings/usage/")
    screenshot(page, "console-settings-usage")
    page.get_by_role("button", name="Adjust limit").click()
    dialog = page.locator("dialog#cap-modal")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Monthly limit (USD)")).to_be_focused()
    screenshot(page, "console-org-cap-modal")
    dialog.get_by_label("Monthly limit (USD)").fill("2500")
    dialog.get_by_role("button", name="Set limit").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("org-limit")).to_have_text("$2,500.00")
    expect(recent_changes(page)).to_contain_text("Set the organization's monthly spend limit to $2,500.00")
    expect(recent_changes(page).locator(".change-row").first).to_contain_text("$2,500.00")
    assert SpendCap.objects.get(scope=CapScope.ORGANIZATION).amount == 2500

    page.get_by_role("button", name="Adjust limit").click()
    page.locator("dialog#cap-modal").get_by_role("button", name="Set to unlimited").click()
    expect(page.locator("dialog#cap-modal")).to_have_count(0)
    expect(page.get_by_test_id("org-limit")).to_have_text("Unlimited")
    first = recent_changes(page).locator(".change-row").first
    expect(first).to_contain_text("Set the organization's monthly spend limit to unlimited (was $2,500.00).")


def test_escape_closes_the_modal_without_saving(page, org):
    login(page, "owner@globex.test")
    page.goto("/orgs/globex/settings/usage/")
    page.get_by_role("button", name="Adjust limit").click()
    page.locator("dialog#cap-modal").get_by_label("Monthly limit (USD)").fill("10")
    page.keyboard.press("Escape")
    expect(page.locator("dialog#cap-modal")).to_have_count(0)
    assert not SpendCap.objects.exists()


def test_owner_sets_a_tier_cap(page, org):
    login(page, "owner@globex.test")
    page.goto("/orgs/globex/settings/usage/")
    page.get_by_role("button", name="Edit the Premium limit").click()
    dialog = page.locator("dialog#cap-modal")
    expect(dialog).to_contain_text("Premium seat limit")
    screenshot(page, "console-tier-cap-modal")
    dialog.get_by_label("Monthly limit (USD)").fill("150.25")
    dialog.get_by_role("button", name="Set limit").click()
    expect(page.locator("#tier-cap-premium")).to_contain_text("$150.25")
    expect(recent_changes(page).locator(".change-row").first).to_contain_text("Premium seats")
    expect(recent_changes(page).locator(".change-row").first).to_contain_text("$150.25")


def test_icon_controls_have_a_name_and_a_comfortable_hit_area(page, org):
    login(page, "owner@globex.test")
    page.goto("/orgs/globex/settings/usage/")
    controls = [page.get_by_role("button", name="Edit the Premium limit"),
                page.locator("tr", has_text="member1@globex.test").locator("summary")]
    for control in controls:
        box = control.bounding_box()
        assert box["width"] >= 40 and box["height"] >= 40, box
    expect(controls[1]).to_have_attribute("aria-label", re.compile("Actions for"))


def test_member_limit_validation_error_then_valid_amount(page, org):
    login(page, "owner@globex.test")
    page.goto("/orgs/globex/settings/usage/")
    row = page.locator("tr", has_text="member1@globex.test")
    row.locator("summary").click()
    row.get_by_role("button", name="Edit limit").click()
    dialog = page.locator("dialog#cap-modal")
    field = dialog.get_by_label("Monthly limit (USD)")
    field.fill("12.345")
    dialog.get_by_role("button", name="Set limit").click()
    expect(dialog.locator(".field-error")).to_contain_text("two decimal places")
    expect(dialog).to_be_visible()
    expect(field).to_be_focused()
    screenshot(page, "console-member-limit-modal-error")
    assert not SpendCap.objects.filter(scope=CapScope.MEMBER).exists()
    field.fill("12.34")
    field.press("Enter")
    expect(dialog).to_have_count(0)
    expect(row).to_contain_text("$12.34")
    expect(row).to_contain_text("member")
    expect(recent_changes(page).locator(".change-row").first).to_contain_text("member1@globex.test")
    expect(recent_changes(page).locator(".change-row").first).to_contain_text("$12.34")


def test_seat_upgrade_asks_to_confirm_then_charges(page, org):
    login(page, "owner@globex.test")
    page.goto("/orgs/globex/members/")
    screenshot(page, "console-members")
    premium = str(org.seat_tiers.get(code="premium").pk)
    row = page.locator("tr", has_text="member2@globex.test")
    row.get_by_label(re.compile("Seat tier for")).select_option(value=premium)
    dialog = page.locator("dialog#seat-confirm-modal")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("proration")).to_contain_text(re.compile(r"\$\d+\.\d\d due now for the remaining"))
    screenshot(page, "console-seat-upgrade-modal")
    # Cancelling puts the select back and changes nothing.
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(row.get_by_label(re.compile("Seat tier for"))).to_have_value(str(seat_current(
        membership=org.memberships.get(user__email="member2@globex.test")).tier.pk))

    row.get_by_label(re.compile("Seat tier for")).select_option(value=premium)
    page.locator("dialog#seat-confirm-modal").get_by_role("button", name=re.compile("Confirm upgrade")).click()
    expect(page.locator("dialog#seat-confirm-modal")).to_have_count(0)
    expect(page.locator("tr", has_text="member2@globex.test")).to_contain_text("Saved")
    membership = org.memberships.get(user__email="member2@globex.test")
    assert seat_current(membership=membership).tier.code == "premium"
    assert membership.seat_charges.count() == 1
    charge = membership.seat_charges.get()
    rows = recent_changes(page).locator(".change-row")
    expect(rows.nth(0)).to_contain_text(f"Charged ${charge.amount.amount} for moving member2@globex.test from a "
                                        f"Standard seat to a Premium seat")
    expect(rows.nth(1)).to_contain_text("Moved member2@globex.test from a Standard seat to a Premium seat.")
    page.goto("/orgs/globex/settings/usage/")
    expect(recent_changes(page).locator(".change-row").first).to_contain_text("member2@globex.test")


def test_invite_modal_and_admin_read_only_view(page, org):
    login(page, "owner@globex.test")
    page.goto("/orgs/globex/members/")
    page.get_by_role("button", name="Invite member").click()
    expect(page.locator("dialog#invite-modal")).to_be_visible()
    screenshot(page, "console-invite-modal")
    page.keyboard.press("Escape")
    page.context.clear_cookies()
    login(page, "admin@globex.test")
    page.goto("/orgs/globex/settings/usage/")
    expect(page.get_by_text("Only owners can change them")).to_be_visible()
    expect(page.get_by_role("button", name="Adjust limit")).to_have_count(0)
    screenshot(page, "console-settings-usage-admin")


def test_invite_accept_change_role_and_remove(page, org, outbox):
    login(page, "owner@globex.test")
    page.goto("/orgs/globex/members/")
    page.get_by_role("button", name="Invite member").click()
    dialog = page.locator("dialog#invite-modal")
    expect(dialog.get_by_label("Email")).to_be_focused()
    dialog.get_by_label("Email").fill("newcomer@globex.test")
    dialog.get_by_role("button", name="Send invitation").click()
    expect(dialog).to_have_count(0)
    expect(recent_changes(page).locator(".change-row").first).to_contain_text("newcomer@globex.test")
    link = re.search(r"(/invitations/\S+/)", outbox[0].body).group(1)

    page.context.clear_cookies()
    page.goto(link)
    screenshot(page, "console-invitation-accept")
    page.get_by_label("Your name").fill("New Comer")
    page.get_by_label("Choose a password").fill("long-enough-pw")
    page.get_by_label("Confirm password").fill("long-enough-pw")
    page.get_by_role("button", name="Create account and join").click()
    expect(page.get_by_text("Welcome to Globex")).to_be_visible()

    page.context.clear_cookies()
    login(page, "owner@globex.test")
    page.goto("/orgs/globex/members/")
    row = page.locator("tr", has_text="newcomer@globex.test")
    row.locator("summary").click()
    row.get_by_role("button", name="Change role").click()
    dialog = page.locator("dialog#role-modal")
    screenshot(page, "console-role-modal")
    dialog.get_by_label("Admin").check()
    dialog.get_by_role("button", name="Save role").click()
    expect(dialog).to_have_count(0)
    expect(page.locator("tr", has_text="newcomer@globex.test")).to_contain_text("Admin")
    expect(recent_changes(page).locator(".change-row").first).to_contain_text(
        "Changed the role of newcomer@globex.test from Member to Admin.")

    row = page.locator("tr", has_text="newcomer@globex.test")
    row.locator("summary").click()
    row.get_by_role("button", name="Remove").click()
    page.locator("dialog#remove-modal").get_by_role("button", name="Remove member").click()
    expect(page.locator("#members-table tr", has_text="newcomer@globex.test")).to_have_count(0)
    expect(recent_changes(page).locator(".change-row").nth(1)).to_contain_text(
        "Removed newcomer@globex.test from the organization.")
