"""Email login: case-insensitive, lands on the user's organization or a switcher; logout; outsiders get 404."""

import pytest
from django.urls import reverse

from apps.organizations.models import Role
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db


def login(client, email, password="demo-password"):
    return client.post(reverse("accounts:login"), {"username": email, "password": password})


def test_login_with_email_in_any_case_lands_on_the_organization(client):
    org = OrganizationFactory(slug="acme", name="Acme")
    member(org, email="pat@example.com", role=Role.OWNER)
    response = login(client, "Pat@Example.COM")
    assert response.status_code == 302
    home = client.get(response["Location"])
    assert home.status_code == 302 and home["Location"].startswith("/orgs/acme/")


def test_wrong_password_shows_the_form_again_without_logging_in(client):
    member(OrganizationFactory(), email="pat@example.com")
    response = login(client, "pat@example.com", "wrong")
    assert response.status_code == 200
    assert b"correct" in response.content  # "Please enter a correct email and password."
    assert client.get(reverse("organizations:home")).status_code == 302  # still anonymous → login page


def test_member_of_several_organizations_chooses_one(client):
    a, b = OrganizationFactory(name="Alpha"), OrganizationFactory(name="Beta")
    m = member(a, email="pat@example.com")
    member_b = member(b, email="other@example.com")
    member_b.user = m.user
    member_b.save()
    login(client, "pat@example.com")
    page = client.get(reverse("organizations:home"))
    assert page.status_code == 200
    assert b"Alpha" in page.content and b"Beta" in page.content


def test_outsider_gets_404_for_another_organization(client):
    member(OrganizationFactory(slug="mine"), email="pat@example.com")
    OrganizationFactory(slug="theirs")
    login(client, "pat@example.com")
    assert client.get("/orgs/theirs/").status_code == 404
    assert client.get("/orgs/no-such-org/").status_code == 404


def test_logout_ends_the_session(client):
    member(OrganizationFactory(), email="pat@example.com")
    login(client, "pat@example.com")
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert client.get(reverse("organizations:home")).status_code == 302
