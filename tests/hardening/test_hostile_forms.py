"""Hostile input in the owner forms, generated with hypothesis: the cap modal and the invite modal. Never a 5xx;
either the change is saved whole (with its audit row) or the form answers with an error and nothing changes."""

from decimal import Decimal

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.common.money import MAX_CAP_AMOUNT
from apps.organizations.models import AuditEntry, PlanKind, Role
from apps.usage.models import CapScope, SpendCap
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db
FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

amounts = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats().map(repr),
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Nd", "Cc", "Cf", "Zs", "Sc"]), max_size=20),
    st.sampled_from(["500", "500.00", "$1,234.56", "0.001", "-5", "1e3", "١٢٣", "5\x00", "99999999999999.99",
                     str(MAX_CAP_AMOUNT), str(MAX_CAP_AMOUNT + 1), " 12.5 ", "NaN", "Infinity", "", "0"]),
)
emails = st.one_of(
    st.emails().map(str),
    st.text(max_size=300),
    st.sampled_from(["new@acme.example", "NEW@ACME.EXAMPLE", "dév@acme.example", "a@b", "x" * 300 + "@acme.example",
                     "new@acme.example\x00", "new@acme.example\u202e", "<script>@acme.example", "owner@acme.example"]),
)


@pytest.fixture
def owner_client():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="acme")
    owner = member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER)
    client = Client()
    client.force_login(owner.user, backend="django.contrib.auth.backends.ModelBackend")
    return org, client


@FAST
@given(amount=amounts, action=st.sampled_from(["set", "unlimited", "", "delete", "\x00"]))
def test_cap_modal_saves_a_valid_amount_whole_or_changes_nothing(owner_client, amount, action):
    org, client = owner_client
    before_cap = list(SpendCap.objects.filter(organization=org, scope=CapScope.ORGANIZATION)
                      .values_list("amount", flat=True))
    before_audit = AuditEntry.objects.filter(organization=org).count()
    response = client.post("/orgs/acme/settings/usage/org-cap/edit/", {"amount": amount, "action": action},
                           HTTP_HX_REQUEST="true")
    assert response.status_code in (200, 204, 400), (response.status_code, amount, action)
    after_cap = list(SpendCap.objects.filter(organization=org, scope=CapScope.ORGANIZATION)
                     .values_list("amount", flat=True))
    after_audit = AuditEntry.objects.filter(organization=org).count()
    if response.status_code == 204:
        # A change writes exactly one audit row; "unlimited" when already unlimited changes nothing.
        effective_before = before_cap[0] if before_cap else None  # no row and a NULL row both mean unlimited
        effective_after = after_cap[0] if after_cap else None
        assert after_audit == before_audit + (0 if effective_after == effective_before else 1)
        saved = after_cap[0] if after_cap else None
        if saved is not None:
            assert Decimal(0) <= saved <= MAX_CAP_AMOUNT and saved == saved.quantize(Decimal("0.01"))  # $0 is a limit
    else:  # the modal again (with its error) and nothing changed
        assert (after_cap, after_audit) == (before_cap, before_audit)
        assert b'id="cap-modal"' in response.content


@FAST
@given(email=emails, role=st.sampled_from(["member", "admin", "owner", "primary_owner", "root", ""]),
       tier=st.sampled_from(["standard", "premium", "nope", ""]))
def test_invite_form_never_5xx_and_invites_only_valid_emails(owner_client, email, role, tier):
    from apps.organizations.models import Invitation

    org, client = owner_client
    before = Invitation.objects.filter(organization=org).count()
    response = client.post("/orgs/acme/members/invite/", {"email": email, "role": role, "tier": tier},
                           HTTP_HX_REQUEST="true")
    assert response.status_code in (200, 204, 400), (response.status_code, email)
    after = Invitation.objects.filter(organization=org).count()
    if response.status_code == 204:
        assert after == before + 1
        invited = Invitation.objects.filter(organization=org).latest("pk")
        assert "@" in invited.email and "\x00" not in invited.email and invited.role != "primary_owner"
    else:
        assert after == before
