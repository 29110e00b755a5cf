import pytest

from apps.organizations.models import PlanKind
from tests.conftest import ApiClient
from tests.factories import OrganizationFactory, api_key, member


def usage_body(key: str, email: str = "dev@example.com", *, model: str = "claude-sonnet-4-5", product: str = "chat",
               input_tokens: int = 1000, output_tokens: int = 100, **extra) -> dict:
    """A POST /usage body. Sonnet 4.5 at 1,000 in + 100 out costs 1,000×3 + 100×15 = 4,500 → $0.0045."""
    body = {"idempotency_key": key, "member": email, "product": product, "model": model,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens}}
    body.update(extra)
    return body


@pytest.fixture
def usage_org(db):
    """A usage-based Enterprise organization with one member (dev@example.com, chat_code seat) and a client."""
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    membership = member(org, email="dev@example.com", tier_code="chat_code")
    return org, membership, ApiClient(api_key(org))
