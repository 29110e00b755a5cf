import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from apps.organizations.models import AuditEntry, Membership, Role
from apps.seats.models import SeatAssignment, SeatCharge
from apps.seats.selectors import seat_current
from tests.factories import member, tier

from .conftest import HTMX, client_for

pytestmark = pytest.mark.django_db


def members_url(team, suffix=""):
    return f"/orgs/{team.org.slug}/members/{suffix}"


@pytest.mark.parametrize("who,status", [
    ("primary", 200), ("owner", 200), ("admin", 200), ("member", 404), ("outsider", 404),
])
def test_members_page_access_by_role(team, who, status):
    assert client_for(getattr(team, who)).get(members_url(team)).status_code == status


def test_members_page_anonymous_redirects_to_login(team):
    response = client_for(None).get(members_url(team))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_admin_sees_members_read_only_and_cannot_change_seats(team):
    page = client_for(team.admin).get(members_url(team)).content.decode()
    assert "member@acme.test" in page and "<select" not in page.split('id="members-table"')[1]
    premium = tier(team.org, "premium")
    response = client_for(team.admin).post(members_url(team, f"{team.member.pk}/seat/"), {"tier": premium.pk}, **HTMX)
    assert response.status_code == 403
    assert seat_current(membership=team.member).tier.code == "standard"


@pytest.mark.parametrize("who,status", [("admin", 403), ("member", 404), ("outsider", 404)])
def test_member_writes_are_refused_to_non_owners(team, who, status):
    client = client_for(getattr(team, who))
    target = team.member.pk
    for path, data in ((f"{target}/seat/", {"tier": tier(team.org, "premium").pk}),
                       (f"{target}/role/", {"role": "admin"}), (f"{target}/remove/", {}),
                       ("invite/", {"email": "x@y.test", "role": "member", "tier": "standard"})):
        assert client.post(members_url(team, path), data, **HTMX).status_code == status
    team.member.refresh_from_db()
    assert team.member.role == Role.MEMBER and team.member.removed_at is None
    assert not AuditEntry.objects.filter(action__startswith="member.").exists()


def test_search_finds_members_by_name_or_email(team):
    team.admin.user.name = "Grace Hopper"
    team.admin.user.save()
    page = client_for(team.owner).get(members_url(team, "table/?q=hopper")).content.decode()
    assert "admin@acme.test" in page and "member@acme.test" not in page
    page = client_for(team.owner).get(members_url(team, "table/?q=member@")).content.decode()
    assert "member@acme.test" in page and "admin@acme.test" not in page


# --- seats ----------------------------------------------------------------------------------------------------


@time_machine.travel(dt.datetime(2026, 4, 21, 12, tzinfo=dt.UTC), tick=False)
def test_upgrade_asks_to_confirm_with_the_prorated_amount_then_charges_it(db):
    from .conftest import make_team

    team = make_team(slug="prorate")
    client = client_for(team.owner)
    premium = tier(team.org, "premium")  # $200 vs $40 standard on seat-based Enterprise
    seat_url = members_url(team, f"{team.member.pk}/seat/")

    response = client.post(seat_url, {"tier": premium.pk}, **HTMX)
    page = response.content.decode()
    assert response["HX-Retarget"] == "#modal-host"
    # April has 30 days; from the 21st, 10 days remain: (200 - 40) * 10 / 30 = 53.33
    assert "$53.33" in page and "remaining 10 of 30 days" in page
    assert seat_current(membership=team.member).tier.code == "standard"
    assert not SeatCharge.objects.exists()

    response = client.post(seat_url, {"tier": premium.pk, "confirm": "yes"}, **HTMX)
    assert response.status_code == 200 and "closeModal" in response["HX-Trigger-After-Swap"]
    assert seat_current(membership=team.member).tier == premium
    charge = SeatCharge.objects.get()
    assert charge.amount.amount == Decimal("53.33") and charge.remaining_days == 10
    history = list(SeatAssignment.objects.filter(membership=team.member).order_by("started_at"))
    assert [a.tier.code for a in history] == ["standard", "premium"] and history[0].ended_at is not None
    entry = AuditEntry.objects.get(action="seat.change", old_value="standard")
    assert (entry.old_value, entry.new_value, entry.actor) == ("standard", "premium", team.owner.user)


def test_downgrade_asks_to_confirm_and_says_what_happens_to_the_difference(team):
    premium, standard = tier(team.org, "premium"), tier(team.org, "standard")
    vip = member(team.org, email="vip@acme.test", tier_code="premium")
    seat_url = members_url(team, f"{vip.pk}/seat/")
    response = client_for(team.owner).post(seat_url, {"tier": standard.pk}, **HTMX)
    page = response.content.decode()
    assert response["HX-Retarget"] == "#modal-host" and "down to Standard?" in page
    assert "No charge and no refund now." in page and "Confirm downgrade" in page
    assert seat_current(membership=vip).tier.code == "premium"

    response = client_for(team.owner).post(seat_url, {"tier": standard.pk, "confirm": "yes"}, **HTMX)
    assert response.status_code == 200 and "Saved" in response.content.decode()
    assert seat_current(membership=vip).tier.code == "standard"
    assert not SeatCharge.objects.exists()
    assert premium.assignments.filter(membership=vip, ended_at__isnull=False).exists()


@time_machine.travel(dt.datetime(2026, 4, 21, 12, tzinfo=dt.UTC), tick=False)
def test_downgrade_after_an_upgrade_states_the_credit_and_upgrading_back_charges_nothing(db):
    from .conftest import make_team

    team = make_team(slug="credit")
    client = client_for(team.owner)
    premium, standard = tier(team.org, "premium"), tier(team.org, "standard")
    seat_url = members_url(team, f"{team.member.pk}/seat/")
    client.post(seat_url, {"tier": premium.pk, "confirm": "yes"}, **HTMX)
    assert [c.amount.amount for c in SeatCharge.objects.all()] == [Decimal("53.33")]

    with time_machine.travel(dt.datetime(2026, 4, 23, 12, tzinfo=dt.UTC), tick=False):
        page = client.post(seat_url, {"tier": standard.pk}, **HTMX).content.decode()
        # Premium held on the 21st and 22nd: 160 × 2 / 30 = 10.67 used; 53.33 − 10.67 = 42.66 comes back.
        assert "$42.66 of this period's upgrade charge paid for Premium days" in page
        assert "credited on the next invoice" in page
        client.post(seat_url, {"tier": standard.pk, "confirm": "yes"}, **HTMX)
        page = client.post(seat_url, {"tier": premium.pk}, **HTMX).content.decode()
        assert "No charge now" in page and "already paid for the remaining 8 of 30 days" in page
        response = client.post(seat_url, {"tier": premium.pk, "confirm": "yes"}, **HTMX)
        assert "charged now" not in response["HX-Trigger-After-Swap"]
    assert seat_current(membership=team.member).tier == premium
    assert [c.amount.amount for c in SeatCharge.objects.all()] == [Decimal("53.33")]


def test_unknown_or_foreign_tier_changes_nothing(team):
    foreign = tier(team.outsider.organization, "premium")
    for value in (foreign.pk, "abc", ""):
        response = client_for(team.owner).post(members_url(team, f"{team.member.pk}/seat/"), {"tier": value}, **HTMX)
        assert response.status_code == 200 and "Choose one of this plan" in response.content.decode()
    assert seat_current(membership=team.member).tier.code == "standard"
    assert not AuditEntry.objects.filter(action="seat.change", target=team.member.user.email).exclude(
        old_value=None).exists()


def test_seat_of_another_orgs_member_is_a_404(team):
    response = client_for(team.owner).post(members_url(team, f"{team.outsider.pk}/seat/"),
                                           {"tier": tier(team.org, "premium").pk}, **HTMX)
    assert response.status_code == 404


# --- removal ---------------------------------------------------------------------------------------------------


def test_owner_removes_a_member_and_their_seat_closes(team):
    response = client_for(team.owner).post(members_url(team, f"{team.member.pk}/remove/"), **HTMX)
    assert response.status_code == 204
    team.member.refresh_from_db()
    assert team.member.removed_at is not None
    assert seat_current(membership=team.member) is None
    assert AuditEntry.objects.filter(action="member.remove", target="member@acme.test").exists()
    assert client_for(team.member).get(f"/orgs/{team.org.slug}/").status_code == 404
    assert "member@acme.test" not in client_for(team.owner).get(members_url(team)).content.decode().split(
        "Recent changes")[0]


def test_primary_owner_cannot_be_removed(team):
    response = client_for(team.owner).post(members_url(team, f"{team.primary.pk}/remove/"), **HTMX)
    assert "primary owner cannot be removed" in response.content.decode()
    team.primary.refresh_from_db()
    assert team.primary.removed_at is None


def test_only_the_primary_owner_removes_an_owner(team):
    other_owner = member(team.org, email="owner2@acme.test", role=Role.OWNER)
    response = client_for(team.owner).post(members_url(team, f"{other_owner.pk}/remove/"), **HTMX)
    assert "Only the primary owner" in response.content.decode()
    assert Membership.objects.get(pk=other_owner.pk).removed_at is None
    assert client_for(team.primary).post(members_url(team, f"{other_owner.pk}/remove/"), **HTMX).status_code == 204


# --- query counts ------------------------------------------------------------------------------------------------


def _add_members(team, n, start=0):
    for i in range(start, start + n):
        member(team.org, email=f"bulk{i}@acme.test", tier_code="premium" if i % 2 else "standard")


def _count_queries(client, path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    connection.queries_log.clear()  # a full log (maxlen) would make the capture count nothing
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("path", ["members/", "members/table/", "settings/usage/", "settings/usage/limits/"])
def test_list_pages_make_the_same_number_of_queries_for_5_or_50_members(team, path):
    client = client_for(team.owner)
    full = f"/orgs/{team.org.slug}/{path}"
    _add_members(team, 1)
    few = _count_queries(client, full)
    _add_members(team, 45, start=100)
    many = _count_queries(client, full)
    assert few > 0 and many == few, f"{path}: {few} queries with 5 members, {many} with 50"
    assert many <= 30  # the whole Settings > Usage page, extra-usage sections included


def test_members_page_at_the_50_per_page_limit_stays_within_budget(team, django_assert_max_num_queries):
    _add_members(team, 60, start=200)
    client = client_for(team.owner)
    with django_assert_max_num_queries(12):
        page = client.get(members_url(team, "table/")).content.decode()
    assert page.count('<tr id="member-') == 50 and "1–50 of 64" in page
