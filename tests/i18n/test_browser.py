"""Settings > Usage in each of the five languages, in the OS Chromium: the owner opens the limit modal and
sets a cap by the glossary's words, sees the amount in that locale's format, and makes it unlimited again.
Screenshots: test-output/screenshots/i18n-settings-usage-<language>.png."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from apps.accounts.models import User
from apps.common.money import money_format
from apps.organizations.models import PlanKind, Role
from apps.usage.models import CapScope, SpendCap
from tests.conftest import login, screenshot
from tests.factories import OrganizationFactory, member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# language: (Adjust limit, Set limit, Set to unlimited, Unlimited, the amount as a reader there types it)
GLOSSARY = {
    "en": ("Adjust limit", "Set limit", "Set to unlimited", "Unlimited", "1,234.56"),
    "de": ("Limit anpassen", "Limit festlegen", "Auf unbegrenzt setzen", "Unbegrenzt", "1.234,56"),
    "fr": ("Ajuster la limite", "Définir le plafond", "Définir comme illimité", "Illimité", "1 234,56"),
    "it": ("Regola limite", "Imposta limite", "Imposta su illimitato", "Illimitato", "1.234,56"),
    "es": ("Ajustar límite", "Establecer límite", "Establecer como ilimitado", "Ilimitado", "1234,56"),
}


@pytest.fixture
def org(db):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="globex", name="Globex")
    member(org, email="owner@globex.test", role=Role.PRIMARY_OWNER)
    for i in range(3):
        member(org, email=f"member{i}@globex.test")
    return org


@pytest.mark.parametrize("language", list(GLOSSARY))
def test_owner_sets_a_cap_by_the_glossarys_words(page, org, language):
    adjust, set_limit, set_unlimited, unlimited, typed = GLOSSARY[language]
    User.objects.filter(email="owner@globex.test").update(language=language)
    login(page, "owner@globex.test")
    page.goto("/orgs/globex/settings/usage/")
    assert page.evaluate("document.documentElement.lang") == language

    page.get_by_role("button", name=adjust).click()
    dialog = page.locator("dialog#cap-modal")
    expect(dialog).to_be_visible()
    dialog.locator("#cap-amount").fill(typed)
    dialog.get_by_role("button", name=set_limit).click()
    expect(dialog).to_have_count(0)
    expected = money_format(Decimal("1234.56"), "USD", language)
    expect(page.get_by_test_id("org-limit")).to_have_text(expected)
    assert SpendCap.objects.get(scope=CapScope.ORGANIZATION).amount == Decimal("1234.56")
    expect(page.locator("#recent-changes .change-row").first).to_contain_text(expected)
    if language in ("de", "fr"):
        screenshot(page, f"i18n-settings-usage-{language}")

    page.get_by_role("button", name=adjust).click()
    page.locator("dialog#cap-modal").get_by_role("button", name=set_unlimited).click()
    expect(page.locator("dialog#cap-modal")).to_have_count(0)
    expect(page.get_by_test_id("org-limit")).to_have_text(unlimited)


def test_the_header_picker_switches_the_page_and_remembers_it(page, org):
    login(page, "owner@globex.test")
    page.goto("/orgs/globex/settings/usage/")
    expect(page.get_by_role("button", name="Adjust limit")).to_be_visible()
    page.get_by_label("Language").select_option("de")
    page.get_by_role("button", name="Change language").click()
    page.wait_for_url("**/orgs/globex/settings/usage/")
    expect(page.get_by_role("button", name="Limit anpassen")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "de"
    assert User.objects.get(email="owner@globex.test").language == "de"
    page.goto("/orgs/globex/usage/dashboard/")
    expect(page.get_by_role("heading", name="Nutzungs-Dashboard")).to_be_visible()
    # The charts draw with the page's language (static/js/charts.js reads <html lang>).
    expect(page.locator("canvas[data-chart]").first).to_have_attribute("data-chart-drawn", "true")
    assert page.evaluate("new Intl.NumberFormat(document.documentElement.lang, "
                         "{style: 'currency', currency: 'USD'}).format(1234.56)") == "1.234,56\u00a0$"


def test_a_german_amount_error_is_shown_in_german(page, org):
    User.objects.filter(email="owner@globex.test").update(language="de")
    login(page, "owner@globex.test")
    page.goto("/orgs/globex/settings/usage/")
    page.get_by_role("button", name="Limit anpassen").click()
    dialog = page.locator("dialog#cap-modal")
    dialog.locator("#cap-amount").fill("10,005")
    dialog.get_by_role("button", name="Limit festlegen").click()
    expect(dialog.locator(".field-error")).to_have_text("Verwenden Sie höchstens zwei Dezimalstellen.")
    assert not SpendCap.objects.filter(scope=CapScope.ORGANIZATION).exists()
