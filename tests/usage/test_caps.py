"""The cap hierarchy, seen through the machine API: a member may spend only while below every cap that applies
to them (their own, their tier's and the organization's); changes apply at the next admission; usage that
overshoots a cap is recorded and then the member is refused."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.common.periods import period_containing
from apps.organizations.models import AuditEntry, PlanKind
from apps.seats.models import SeatTier
from apps.spending.selectors import spend_contexts_load
from apps.usage.models import CapScope
from apps.usage.services import cap_delete, cap_set
from tests.conftest import ApiClient
from tests.factories import OrganizationFactory, api_key, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    organization = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    organization.client = ApiClient(api_key(organization))
    organization.alice = member(organization, email="alice@example.com", tier_code="chat_code")
    organization.bob = member(organization, email="bob@example.com", tier_code="chat_code")
    return organization


def admit(org, email="alice@example.com") -> dict:
    response = org.client.post("/admission", {"member": email, "product": "chat", "model": "claude-haiku-4-5"})
    assert response.status_code == 200, response.content
    return response.json()


def spend(org, dollars: str, email="alice@example.com") -> dict:
    """Haiku 4.5 input is $1 per million tokens, so N millionths of a dollar is N input tokens."""
    spend.n += 1
    response = org.client.post("/usage", {
        "idempotency_key": f"e{spend.n}", "member": email, "product": "chat", "model": "claude-haiku-4-5",
        "usage": {"input_tokens": int(Decimal(dollars) * 1_000_000), "output_tokens": 0},
    })
    assert response.status_code == 201, response.content
    return response.json()


spend.n = 0


def statuses(org, *memberships):
    """The members' effective limits this period, as admission's loader reads them."""
    _, found = spend_contexts_load(organization=org, period=period_containing(timezone.now(), "UTC"),
                                   membership_ids=[m.pk for m in memberships])
    return {m.pk: found[m.pk].status for m in memberships}


def chat_code(org) -> SeatTier:
    return SeatTier.objects.get(organization=org, code="chat_code")


def test_no_caps_means_unlimited(org):
    for _ in range(5):
        spend(org, "100")
    assert admit(org)["allowed"] is True
    status = statuses(org, org.alice)[org.alice.pk]
    assert (status.limit, status.source, status.remaining, status.blocked) == (None, None, None, False)
    assert status.spend == Decimal("500")


def test_member_cap_binds(org):
    cap_set(organization=org, scope=CapScope.MEMBER, membership=org.alice, amount=Decimal("1.00"))
    spend(org, "0.99")
    assert admit(org)["allowed"] is True
    spend(org, "0.01")
    answer = admit(org)
    assert (answer["allowed"], answer["reason"]) == (False, "member_cap")
    assert admit(org, "bob@example.com")["allowed"] is True  # Bob has no cap of his own


def test_tier_cap_binds_every_member_of_the_tier_on_their_own_spend(org):
    cap_set(organization=org, scope=CapScope.SEAT_TIER, tier=chat_code(org), amount=Decimal("2.00"))
    spend(org, "2")
    assert admit(org)["reason"] == "tier_cap"
    assert admit(org, "bob@example.com")["allowed"] is True
    spend(org, "2", "bob@example.com")
    assert admit(org, "bob@example.com")["reason"] == "tier_cap"


def test_org_cap_binds_on_the_organizations_total(org):
    cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=Decimal("3.00"))
    spend(org, "2")
    assert admit(org, "bob@example.com")["allowed"] is True
    spend(org, "1", "bob@example.com")
    # Bob spent only $1 of his own, but together they reached the organization's $3.
    assert admit(org, "bob@example.com")["reason"] == "org_cap"
    assert admit(org)["reason"] == "org_cap"


def test_the_lowest_headroom_names_the_binding_level(org):
    cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=Decimal("100"))
    cap_set(organization=org, scope=CapScope.SEAT_TIER, tier=chat_code(org), amount=Decimal("10"))
    cap_set(organization=org, scope=CapScope.MEMBER, membership=org.alice, amount=Decimal("50"))
    spend(org, "4")
    status = statuses(org, org.alice)[org.alice.pk]
    assert (status.limit, status.source, status.remaining, status.blocked) == (
        Decimal("10"), CapScope.SEAT_TIER, Decimal("6"), False)
    # A member cap below the tier's takes over.
    cap_set(organization=org, scope=CapScope.MEMBER, membership=org.alice, amount=Decimal("5"))
    both = statuses(org, org.alice, org.bob)
    assert (both[org.alice.pk].source, both[org.alice.pk].remaining) == (CapScope.MEMBER, Decimal("1"))
    assert (both[org.bob.pk].source, both[org.bob.pk].remaining) == (CapScope.SEAT_TIER, Decimal("10"))


def test_cap_changes_take_effect_at_the_next_admission(org):
    cap = cap_set(organization=org, scope=CapScope.MEMBER, membership=org.alice, amount=Decimal("1"))
    spend(org, "1")
    assert admit(org)["reason"] == "member_cap"
    cap_set(organization=org, scope=CapScope.MEMBER, membership=org.alice, amount=Decimal("5"))
    assert admit(org)["allowed"] is True
    cap_set(organization=org, scope=CapScope.MEMBER, membership=org.alice, amount=None)  # unlimited
    assert admit(org)["allowed"] is True
    cap_set(organization=org, scope=CapScope.MEMBER, membership=org.alice, amount=Decimal("0"))
    assert admit(org)["reason"] == "member_cap"
    cap.refresh_from_db()
    cap_delete(cap=cap)
    assert admit(org)["allowed"] is True


def test_usage_overshooting_a_cap_is_recorded_and_then_refused(org):
    cap_set(organization=org, scope=CapScope.MEMBER, membership=org.alice, amount=Decimal("1"))
    assert spend(org, "0.9")["blocked"] is False
    assert admit(org)["allowed"] is True
    answer = spend(org, "0.5")  # the request already happened: it is charged in full
    assert (answer["cost"], answer["member_month_to_date"], answer["blocked"]) == ("0.5", "1.4", True)
    assert admit(org)["reason"] == "member_cap"


def test_every_cap_change_is_audited(org):
    owner = member(org, email="owner@example.com", role="owner").user
    cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=Decimal("10"), actor=owner)
    cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=Decimal("10"), actor=owner)  # no change
    cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=Decimal("20"), actor=owner)
    rows = list(AuditEntry.objects.filter(organization=org, action="cap.organization").order_by("id").values_list(
        "actor_label", "old_value", "new_value"))
    assert rows == [("owner@example.com", None, "10.00"), ("owner@example.com", "10.00", "20.00")]


@pytest.mark.parametrize("amount", [Decimal("-1"), Decimal("1.001"), Decimal("10000000.01"), Decimal("NaN")])
def test_invalid_cap_amounts_are_refused(org, amount):
    with pytest.raises(ValidationError):
        cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=amount)


def test_tier_caps_are_not_offered_on_team_plans():
    team = OrganizationFactory(plan_kind=PlanKind.TEAM)
    with pytest.raises(ValidationError):
        cap_set(organization=team, scope=CapScope.SEAT_TIER, tier=SeatTier.objects.filter(organization=team).first(),
                amount=Decimal("5"))


def test_a_cap_cannot_target_another_organizations_member(org):
    other = OrganizationFactory()
    stranger = member(other, email="stranger@example.com")
    with pytest.raises(ValidationError):
        cap_set(organization=org, scope=CapScope.MEMBER, membership=stranger, amount=Decimal("5"))
