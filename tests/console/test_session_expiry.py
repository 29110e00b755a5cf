"""An expired session during an HTMX request sends the whole page to the login form (then back), instead of
swapping the login form into a modal or table."""

import pytest
from playwright.sync_api import expect

from apps.organizations.models import PlanKind, Role
from tests.conftest import login
from tests.factories import OrganizationFactory, member


@pytest.fixture
def org(db):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="globex", name="Globex")
    member(org, email="owner@globex.test", role=Role.PRIMARY_OWNER)
    return org


@pytest.mark.django_db
def test_htmx_request_without_a_session_is_told_to_reload_into_the_login_page(client, org):
    response = client.get("/orgs/globex/members/table/", HTTP_HX_REQUEST="true",
                          HTTP_HX_CURRENT_URL="http://testserver/orgs/globex/members/?q=dev")
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/accounts/login/?next=%2Forgs%2Fglobex%2Fmembers%2F%3Fq%3Ddev"


@pytest.mark.django_db
def test_htmx_request_from_another_site_returns_to_the_fragment_not_there(client, org):
    response = client.get("/orgs/globex/members/table/", HTTP_HX_REQUEST="true",
                          HTTP_HX_CURRENT_URL="https://evil.example/phish")
    assert response["HX-Redirect"] == "/accounts/login/?next=%2Forgs%2Fglobex%2Fmembers%2Ftable%2F"


@pytest.mark.django_db
def test_plain_request_without_a_session_still_gets_the_usual_redirect(client, org):
    response = client.get("/orgs/globex/members/table/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert "HX-Redirect" not in response


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_cap_modal_after_the_session_expired_goes_to_login_and_back(page, org):
    login(page, "owner@globex.test")
    page.goto("/orgs/globex/settings/usage/")
    page.context.clear_cookies()  # the session expires while the page is open
    page.get_by_role("button", name="Adjust limit").click()
    page.wait_for_url("**/accounts/login/?next=*")
    expect(page.locator("dialog#cap-modal")).to_have_count(0)
    page.fill("input[name=username]", "owner@globex.test")
    page.fill("input[name=password]", "demo-password")
    page.click("button[type=submit]")
    page.wait_for_url("**/orgs/globex/settings/usage/")
    expect(page.get_by_role("button", name="Adjust limit")).to_be_visible()
