"""Which language a page speaks: the user's saved preference, else the browser's Accept-Language, else the
organization's default, else English; the header's picker saves the preference; the APIs stay English; owners
set the organization's default and invoice language on Settings > Language (audited)."""

import pytest
from django.conf import settings
from django.test import Client

from apps.organizations.models import AuditEntry, PlanKind, Role
from apps.organizations.selectors import invoice_language_for, recipient_language
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="globex", name="Globex")
    member(org, email="owner@globex.test", role=Role.PRIMARY_OWNER)
    member(org, email="admin@globex.test", role=Role.ADMIN)
    return org


def client_for(email: str | None = None, **headers) -> Client:
    client = Client(**headers)
    if email:
        from apps.accounts.models import User

        client.force_login(User.objects.get(email=email))
    return client


def page_language(response) -> str:
    html = response.content.decode()
    return html.split('<html lang="', 1)[1].split('"', 1)[0]


def set_user_language(email: str, language: str) -> None:
    from apps.accounts.models import User

    User.objects.filter(email=email).update(language=language)


def set_org_default(org, language: str) -> None:
    org.default_language = language
    org.save(update_fields=["default_language"])


SETTINGS_USAGE = "/orgs/globex/settings/usage/"


def test_nothing_chosen_anywhere_reads_english(org):
    response = client_for("owner@globex.test").get(SETTINGS_USAGE)
    assert page_language(response) == "en"
    assert response["Content-Language"] == "en"
    assert "Adjust limit" in response.content.decode()


def test_the_saved_preference_wins_over_the_browser_and_the_organization(org):
    set_user_language("owner@globex.test", "de")
    set_org_default(org, "it")
    response = client_for("owner@globex.test", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").get(SETTINGS_USAGE)
    assert page_language(response) == "de"
    assert "Limit anpassen" in response.content.decode()


def test_the_browser_wins_over_the_organization_default(org):
    set_org_default(org, "it")
    response = client_for("owner@globex.test", HTTP_ACCEPT_LANGUAGE="fr-CH,fr;q=0.9,en;q=0.5").get(SETTINGS_USAGE)
    assert page_language(response) == "fr"
    assert "Ajuster la limite" in response.content.decode()


def test_a_browser_asking_for_an_unoffered_language_falls_through_to_the_next_it_accepts(org):
    set_org_default(org, "it")
    response = client_for("owner@globex.test", HTTP_ACCEPT_LANGUAGE="ja,es;q=0.8").get(SETTINGS_USAGE)
    assert page_language(response) == "es"


def test_the_organization_default_applies_when_nothing_else_says(org):
    set_org_default(org, "it")
    response = client_for("owner@globex.test", HTTP_ACCEPT_LANGUAGE="ja").get(SETTINGS_USAGE)
    assert page_language(response) == "it"
    assert "Regola limite" in response.content.decode()


def test_the_picker_saves_a_users_preference_and_returns_to_the_page(org):
    client = client_for("owner@globex.test")
    response = client.post("/accounts/language/", {"language": "fr", "next": SETTINGS_USAGE})
    assert response.status_code == 302 and response["Location"] == SETTINGS_USAGE
    from apps.accounts.models import User

    assert User.objects.get(email="owner@globex.test").language == "fr"
    # The preference follows the user to a browser without the cookie.
    assert page_language(client_for("owner@globex.test").get(SETTINGS_USAGE)) == "fr"


def test_the_picker_works_for_a_visitor_who_is_not_logged_in():
    client = Client()
    response = client.post("/accounts/language/", {"language": "de", "next": "/accounts/login/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    page = client.get("/accounts/login/")
    assert page_language(page) == "de"
    assert "Anmelden" in page.content.decode()


def test_the_picker_refuses_an_unknown_language_and_an_outside_redirect(org):
    client = client_for("owner@globex.test")
    response = client.post("/accounts/language/", {"language": "xx", "next": "https://evil.example/"})
    assert response.status_code == 302 and not response["Location"].startswith("https://evil")
    from apps.accounts.models import User

    assert User.objects.get(email="owner@globex.test").language == ""


@pytest.mark.parametrize("language", ["en", "de"])
def test_the_header_picker_names_each_language_in_its_own_words(org, language):
    set_user_language("owner@globex.test", language)
    html = client_for("owner@globex.test").get(SETTINGS_USAGE).content.decode()
    assert 'action="/accounts/language/"' in html
    assert 'name="csrfmiddlewaretoken"' in html.split('action="/accounts/language/"', 1)[1]
    picker = html.split('id="language-select"', 1)[1].split("</select>", 1)[0]
    for code, name in settings.LANGUAGES:  # "English" even on a German page, never "Englisch"
        assert f'<option value="{code}" lang="{code}"' in picker and f">{name}</option>" in picker


def test_the_machine_api_answers_in_english_whatever_the_client_asks(org):
    response = Client().post("/api/v1/admission", data="{}", content_type="application/json",
                             HTTP_ACCEPT_LANGUAGE="de", HTTP_AUTHORIZATION="Bearer bp_live_wrong")
    assert response.status_code == 401
    assert response["Content-Language"] == "en"


def test_flash_messages_follow_the_language(org):
    set_user_language("owner@globex.test", "de")
    client = client_for("owner@globex.test")
    client.post("/orgs/globex/settings/language/", {"default_language": "fr", "invoice_language": "de"})
    html = client.get("/orgs/globex/settings/language/").content.decode()
    assert "Spracheinstellungen gespeichert." in html


def test_owners_set_the_default_and_invoice_language_and_it_is_audited(org):
    response = client_for("owner@globex.test").post(
        "/orgs/globex/settings/language/", {"default_language": "fr", "invoice_language": "de"})
    assert response.status_code == 302
    org.refresh_from_db()
    assert (org.default_language, org.invoice_language) == ("fr", "de")
    assert invoice_language_for(org) == "de"
    entry = AuditEntry.objects.get(organization=org, action="organization.language")
    assert entry.old_value == {"default_language": "en", "invoice_language": "en"}
    assert entry.new_value == {"default_language": "fr", "invoice_language": "de"}
    # Saving the same values again changes nothing and writes no second row.
    client_for("owner@globex.test").post(
        "/orgs/globex/settings/language/", {"default_language": "fr", "invoice_language": "de"})
    assert AuditEntry.objects.filter(organization=org, action="organization.language").count() == 1


def test_the_audit_row_reads_as_a_change_on_recent_changes(org):
    client_for("owner@globex.test").post(
        "/orgs/globex/settings/language/", {"default_language": "fr", "invoice_language": "en"})
    changes = client_for("owner@globex.test").get("/orgs/globex/settings/usage/changes/").content.decode()
    # The organization now speaks French by default: the row is a French sentence, languages by name.
    assert "A défini pour l’organisation : langue par défaut Français." in changes


def test_an_unknown_language_gets_a_clear_error_not_a_500(org):
    response = client_for("owner@globex.test").post(
        "/orgs/globex/settings/language/", {"default_language": "xx", "invoice_language": "de"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    org.refresh_from_db()
    assert org.default_language == "en"


def test_admins_read_the_language_settings_but_cannot_change_them(org):
    admin = client_for("admin@globex.test")
    page = admin.get("/orgs/globex/settings/language/")
    assert page.status_code == 200 and "disabled" in page.content.decode()
    assert admin.post("/orgs/globex/settings/language/",
                      {"default_language": "fr", "invoice_language": "fr"}).status_code == 403
    org.refresh_from_db()
    assert org.default_language == "en"


def test_another_organizations_owner_gets_a_404(org):
    other = OrganizationFactory(slug="initech")
    member(other, email="owner@initech.test", role=Role.PRIMARY_OWNER)
    assert client_for("owner@initech.test").get("/orgs/globex/settings/language/").status_code == 404


def test_language_settings_page_query_count(org, django_assert_max_num_queries):
    client = client_for("owner@globex.test")
    client.get("/orgs/globex/settings/language/")
    with django_assert_max_num_queries(8):
        assert client.get("/orgs/globex/settings/language/").status_code == 200


def test_email_language_is_the_recipients_then_the_organizations(org):
    from apps.accounts.models import User

    owner = User.objects.get(email="owner@globex.test")
    set_org_default(org, "it")
    assert recipient_language(user=owner, organization=org) == "it"
    owner.language = "es"
    assert recipient_language(user=owner, organization=org) == "es"


def test_refusal_reasons_read_in_the_members_language():
    from django.utils import translation

    from apps.usage.refusals import REFUSAL_TEXTS, refusal_text

    with translation.override("en"):
        english = {code: refusal_text(code) for code in REFUSAL_TEXTS}
    with translation.override("de"):
        assert refusal_text("member_cap") == "Sie haben Ihre Ausgabenbegrenzung für diesen Monat erreicht."
        assert all(refusal_text(code) != english[code] for code in REFUSAL_TEXTS)
        assert len({refusal_text(code) for code in REFUSAL_TEXTS}) == len(REFUSAL_TEXTS)
    with translation.override("en"):
        assert refusal_text("org_cap") == "Your organization has reached its spend limit for this month."
    assert refusal_text("unknown_code") == "unknown_code"
