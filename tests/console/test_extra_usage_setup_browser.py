"""The guided set-up after "Enable" in the OS Chromium (issue 14, rough edge 1): the Team owner walks every
step; the seat-based Enterprise owner, in each of the five languages, skips one step, saves another and ends on
Settings > Usage. axe-core checks every page (tests/conftest.py). Screenshots under test-output/screenshots/."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from apps.accounts.models import User
from apps.extra_usage.models import MemberExtraUsage
from apps.extra_usage.selectors import extra_usage_settings
from apps.organizations.models import PlanKind, Role
from apps.seats.models import SeatTier
from apps.usage.models import CapScope, SpendCap
from tests.conftest import login, screenshot
from tests.factories import OrganizationFactory, member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_team_owner_is_guided_from_enable_to_settings_usage(page, provider):
    org = OrganizationFactory(plan_kind=PlanKind.TEAM, slug="initech", name="Initech")
    member(org, email="owner@initech.test", role=Role.PRIMARY_OWNER)
    dev = member(org, email="dev@initech.test", tier_code="standard")
    member(org, email="ops@initech.test", tier_code="premium")
    login(page, "owner@initech.test")
    page.goto("/orgs/initech/settings/usage/")
    page.locator("#extra-usage").get_by_role("button", name="Enable", exact=True).click()

    expect(page.get_by_role("heading", name="Pay")).to_be_visible()
    expect(page.get_by_text("Step 1 of 4")).to_be_visible()
    expect(page.locator("li[aria-current=step]")).to_contain_text("Pay")
    page.get_by_label("Amount to buy").fill("200")
    screenshot(page, "extra_usage_setup_team_pay")
    page.get_by_role("button", name="Save and continue").click()

    expect(page.get_by_text("Bought $200.00 of prepaid extra usage; extra usage is on.")).to_be_visible()
    expect(page.get_by_role("heading", name="Auto-reload")).to_be_visible()
    page.get_by_label("Reload when balance reaches").fill("25")
    page.get_by_label("Reload amount").fill("100")
    page.get_by_role("button", name="Save and continue").click()

    expect(page.get_by_role("heading", name="Spend limit")).to_be_visible()
    page.get_by_label("Monthly limit (USD)").fill("1,500")
    page.get_by_role("button", name="Save and continue").click()

    expect(page.get_by_text("Organization spend limit: $1,500.00")).to_be_visible()
    expect(page.get_by_text("Step 4 of 4")).to_be_visible()
    page.get_by_label("Only members I choose").check()
    page.get_by_label("dev@initech.test").check()
    screenshot(page, "extra_usage_setup_team_members")
    page.get_by_role("button", name="Save and finish").click()

    expect(page.get_by_text("Extra usage is set up. You can change any of it below.")).to_be_visible()
    assert page.url.endswith("/orgs/initech/settings/usage/#extra-usage")
    expect(page.locator("[data-extra-usage-state]").first).to_have_text("on")
    expect(page.locator("[data-auto-reload-state]")).to_contain_text("When the balance reaches $25.00, buy $100.00")
    settings = extra_usage_settings(organization=org)
    assert (settings.enabled, settings.prepaid_balance, settings.all_members) == (True, Decimal("200"), False)
    assert SpendCap.objects.get(organization=org, scope=CapScope.ORGANIZATION).amount == Decimal("1500")
    assert list(MemberExtraUsage.objects.filter(enabled=True).values_list("membership", flat=True)) == [dev.pk]


# language: (Enable, Skip this step, Save and continue, Skip and finish, the finish message, Standard typed)
WORDS = {
    "en": ("Enable", "Skip this step", "Save and continue", "Skip and finish",
           "Extra usage is set up. You can change any of it below.", "75.50"),
    "de": ("Aktivieren", "Diesen Schritt überspringen", "Speichern und weiter", "Überspringen und abschließen",
           "Die zusätzliche Nutzung ist eingerichtet. Sie können unten alles ändern.", "75,50"),
    "fr": ("Activer", "Passer cette étape", "Enregistrer et continuer", "Passer et terminer",
           "L’utilisation supplémentaire est configurée. Vous pouvez tout modifier ci-dessous.", "75,50"),
    "it": ("Abilita", "Salta questo passaggio", "Salva e continua", "Salta e termina",
           "L’utilizzo aggiuntivo è configurato. Puoi modificare tutto qui sotto.", "75,50"),
    "es": ("Activar", "Omitir este paso", "Guardar y continuar", "Omitir y terminar",
           "El uso adicional está configurado. Puede cambiar cualquier ajuste a continuación.", "75,50"),
}


@pytest.mark.parametrize("language", list(WORDS))
def test_enterprise_owner_sets_limits_after_enable_in_each_language(page, language):
    enable, skip, save, skip_finish, finished, typed = WORDS[language]
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="globex", name="Globex")
    member(org, email="owner@globex.test", role=Role.PRIMARY_OWNER)
    member(org, email="member1@globex.test")
    User.objects.filter(email="owner@globex.test").update(language=language)
    login(page, "owner@globex.test")
    page.goto("/orgs/globex/settings/usage/")
    page.locator("#extra-usage").get_by_role("button", name=enable, exact=True).click()

    expect(page.locator("ol.setup-steps li")).to_have_count(3)
    page.get_by_role("link", name=skip).click()  # the organization's spend limit stays unlimited
    standard = SeatTier.objects.get(organization=org, code="standard")
    page.locator(f"#id_tier_{standard.pk}").fill(typed)
    if language in ("de", "fr"):
        screenshot(page, f"extra_usage_setup_tiers_{language}")
    page.get_by_role("button", name=save).click()
    expect(page.locator("ol.setup-steps li[aria-current=step] .setup-step-number")).to_have_text("3")
    page.get_by_role("link", name=skip_finish).click()

    expect(page.get_by_text(finished)).to_be_visible()
    assert extra_usage_settings(organization=org).enabled is True
    assert SpendCap.objects.get(tier=standard).amount == Decimal("75.50")
    assert not SpendCap.objects.filter(organization=org, scope=CapScope.ORGANIZATION).exists()
