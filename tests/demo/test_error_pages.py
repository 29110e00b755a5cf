"""With DEBUG off (the suite's settings, like production and the demo), errors get the portal's own pages, each
with a way back, never Django's technical pages."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.views.defaults import permission_denied, server_error

from apps.organizations.models import PlanKind, Role
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db


def test_a_member_opening_an_owner_url_gets_the_styled_not_found_page(settings):
    assert settings.DEBUG is False
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT)
    someone = member(org, email="member@errors.example", role=Role.MEMBER)
    client = Client()
    client.force_login(someone.user)
    response = client.get(f"/orgs/{org.slug}/members/")
    assert response.status_code == 404
    html = response.content.decode()
    assert 'data-error-page="404"' in html and "Page not found" in html
    assert '<a class="button primary" href="/">Back to your organizations</a>' in html  # the way back
    assert "URLconf" not in html
    assert "member@errors.example" in html  # the portal's layout, signed in


def test_an_unknown_address_gets_the_styled_not_found_page(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert 'data-error-page="404"' in response.content.decode()


def test_the_forbidden_page_has_the_layout_and_a_way_back(rf):
    request = rf.get("/somewhere/")
    request.user = AnonymousUser()
    response = permission_denied(request, PermissionDenied())
    html = response.content.decode()
    assert response.status_code == 403
    assert 'data-error-page="403"' in html and "Back to your organizations" in html and 'class="topbar"' in html


def test_the_server_error_page_renders_without_a_request_context(rf):
    response = server_error(rf.get("/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert 'data-error-page="500"' in html and 'href="/"' in html and "/static/css/app.css" in html
