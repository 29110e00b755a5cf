"""scim2-tester's compliance checks (what `scim2 --url … test` runs) against the live server: every check must
succeed."""

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from apps.identity.services import scim_token_create
from apps.organizations.models import PlanKind
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_scim2_tester_checks_all_succeed(live_server, capsys):
    org = OrganizationFactory(slug="acme", plan_kind=PlanKind.TEAM)
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
