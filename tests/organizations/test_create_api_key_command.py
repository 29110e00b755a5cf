"""`manage.py create_api_key <org-slug> [--name NAME]` prints a new key once; only its digest is stored."""

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.organizations.models import ApiKey
from tests.conftest import ApiClient
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db


def test_prints_a_working_key_stored_only_as_a_digest():
    org = OrganizationFactory(slug="acme-team")
    member(org, email="dev@example.com")
    out, err = StringIO(), StringIO()
    call_command("create_api_key", "acme-team", "--name", "Gateway", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    key = ApiKey.objects.get(organization=org)
    assert key.name == "Gateway"
    assert key.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert "not be shown again" in err.getvalue()
    response = ApiClient(raw).post("/admission", {"member": "dev@example.com", "product": "chat",
                                                  "model": "claude-haiku-4-5"})
    assert response.status_code == 200


def test_each_run_makes_a_new_key():
    OrganizationFactory(slug="acme-team")
    first, second = StringIO(), StringIO()
    call_command("create_api_key", "acme-team", stdout=first, stderr=StringIO())
    call_command("create_api_key", "acme-team", stdout=second, stderr=StringIO())
    assert first.getvalue() != second.getvalue()
    assert ApiKey.objects.count() == 2


def test_unknown_organization_is_a_clear_error():
    with pytest.raises(CommandError, match="No organization with slug 'nope'"):
        call_command("create_api_key", "nope", stdout=StringIO(), stderr=StringIO())
    assert ApiKey.objects.count() == 0
