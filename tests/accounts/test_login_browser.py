import pytest

from apps.organizations.models import Role
from tests.conftest import login, screenshot
from tests.factories import OrganizationFactory, member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_member_logs_in_with_email_and_lands_on_their_organization(page):
    org = OrganizationFactory(name="Acme")
    member(org, email="pat@example.com", role=Role.MEMBER)
    login(page, "pat@example.com")
    screenshot(page, "login-landing")
    assert "/orgs/" in page.url
    assert page.get_by_text("Acme").first.is_visible()
