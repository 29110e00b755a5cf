"""scim2-tester's compliance checks (what `scim2 --url … test` runs) against the live server: every check must
succeed."""

import re

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server, filling
from scim2_tester.checkers import patch_add, patch_replace

from apps.identity.services import scim_token_create
from apps.organizations.models import PlanKind
from tests.dns_server import verify_domain
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db(transaction=True)


RANDOM_EMAIL = re.compile(r"([0-9a-f-]{36})@[0-9a-f-]{36}\.com")


@pytest.fixture
def emails_at_the_verified_domain(monkeypatch):
    """scim2-tester makes up addresses at random domains (uuid@uuid.com); SCIM provisions only addresses of the
    organization's verified domains, so its addresses are put at acme.example (the local part stays random)."""
    original = filling.generate_random_value

    def at_acme(*args, **kwargs):
        value = original(*args, **kwargs)
        if isinstance(value, str) and (match := RANDOM_EMAIL.fullmatch(value)):
            return f"{match.group(1)}@acme.example"
        return value

    for module in (filling, patch_add, patch_replace):
        monkeypatch.setattr(module, "generate_random_value", at_acme)


def test_scim2_tester_checks_all_succeed(live_server, capsys, dns_zone, emails_at_the_verified_domain):
    org = OrganizationFactory(slug="acme", plan_kind=PlanKind.TEAM)
    verify_domain(organization=org, domain="acme.example", zone=dns_zone)
    _token, raw = scim_token_create(organization=org, name="compliance")
    http = httpx2.Client(base_url=f"{live_server.url}/scim/v2", headers={"Authorization": f"Bearer {raw}"})
    client = SyncSCIMClient(http)
    results = list(check_server(client))
    failed = [(r.title, r.status.name, r.reason) for r in results if r.status != Status.SUCCESS]
    with capsys.disabled():
        print(f"\nscim2-tester: {len(results) - len(failed)}/{len(results)} checks succeeded")
        for title, status, reason in failed:
            print(f"  {status} {title}: {reason}")
    assert results and not failed, failed
