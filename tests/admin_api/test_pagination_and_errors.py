"""Pagination, cursors and every validation error of the contract, through the official SDK on a live server."""

import base64
import json

import anthropic
import httpx2
import pytest

from apps.admin_api import cursors

from .conftest import Seeded, sdk

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def wire():
    """Every request the SDK sends, as (method, path with query)."""
    sent = []

    def record(request):
        sent.append((request.method, request.url.raw_path.decode()))

    return sent, httpx2.Client(event_hooks={"request": [record]})


def client_with(live_server, key, http_client):
    return anthropic.Anthropic(base_url=live_server.url, api_key=key, max_retries=0, http_client=http_client)


def test_effective_paginates_members_newest_first_with_filters_resent(live_server, wire):
    seeded = Seeded()
    sent, http = wire
    sl = client_with(live_server, seeded.key, http).beta.organization.spend_limits
    wanted = [m.user.public_id for m in seeded.members[:5]]
    rows = list(sl.effective.list(limit=2, user_ids=wanted, period=["monthly"]))
    # Newest member first; the five filtered members over three pages.
    assert [r.scope.user_id for r in rows] == list(reversed(wanted))
    pages = [path for method, path in sent if "effective" in path]
    assert len(pages) == 3
    for path in pages:
        assert path.count("user_ids%5B%5D=") == 5 and "period%5B%5D=monthly" in path
    assert "page=" not in pages[0] and all("page=" in p for p in pages[1:])


def test_effective_limit_counts_members_and_last_page_has_no_cursor(live_server):
    seeded = Seeded()
    sl = sdk(live_server, seeded.key).beta.organization.spend_limits
    first = sl.effective.list(limit=7)
    assert len(first.data) == 7 and first.next_page
    second = sl.effective.list(limit=7, page=first.next_page)
    assert len(second.data) == 1 and second.next_page is None
    assert {r.scope.user_id for r in first.data + second.data} == {m.user.public_id for m in seeded.everyone}


def test_unknown_user_ids_are_silently_omitted(live_server):
    seeded = Seeded()
    other = Seeded()
    sl = sdk(live_server, seeded.key).beta.organization.spend_limits
    page = sl.effective.list(user_ids=[seeded.members[0].user.public_id, other.members[0].user.public_id,
                                       "user_doesnotexist"])
    assert [r.scope.user_id for r in page.data] == [seeded.members[0].user.public_id]


def test_increase_requests_paginate_newest_first_with_filters(live_server, wire):
    seeded = Seeded()
    sent, http = wire
    ir = client_with(live_server, seeded.key, http).beta.organization.spend_limits.increase_requests
    ids = [r.public_id for r in seeded.requests]
    listed = list(ir.list(limit=1, status=["pending"], actor_ids=[m.user.public_id for m in seeded.members[:3]]))
    assert [r.id for r in listed] == list(reversed(ids))
    pages = [p for _, p in sent if "increase_requests" in p]
    assert len(pages) == 3 and all("status%5B%5D=pending" in p and p.count("actor_ids%5B%5D=") == 3 for p in pages)


def test_cursor_errors_use_each_endpoints_documented_messages(live_server):
    seeded = Seeded()
    sl = sdk(live_server, seeded.key).beta.organization.spend_limits
    ir = sl.increase_requests

    def message(call):
        with pytest.raises(anthropic.BadRequestError) as caught:
            call()
        return caught.value.body["error"]["message"]

    assert message(lambda: sl.effective.list(page="garbled!!")) == "page: invalid cursor"
    cursor = sl.effective.list(limit=1).next_page
    assert message(lambda: sl.effective.list(limit=1, page=cursor, user_ids=[seeded.members[0].user.public_id])) \
        == "page: cursor does not match current query parameters"
    # `limit` may change between pages.
    assert len(sl.effective.list(limit=3, page=cursor).data) == 3
    foreign = base64.urlsafe_b64encode(json.dumps({"v": "1999-01-01", "k": [], "f": "x"}).encode()).decode()
    assert message(lambda: sl.effective.list(page=foreign)) == "page: cursor was issued by a different API version"

    assert message(lambda: ir.list(page="garbled!!")) == "invalid page cursor"
    cursor = ir.list(limit=1).next_page
    assert message(lambda: ir.list(limit=1, page=cursor, status=["denied"])) \
        == "page cursor does not match current query parameters"
    assert message(lambda: ir.list(page=foreign)) \
        == "page cursor was issued by a different API version; restart pagination"
    # A cursor of one endpoint is no cursor of the other.
    effective_cursor = sl.effective.list(limit=1).next_page
    assert message(lambda: ir.list(limit=1, page=effective_cursor)) \
        == "page cursor does not match current query parameters"
    assert cursors.API_VERSION_TAG in base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()


def test_every_validation_error_is_a_400_with_the_contract_message(live_server):
    seeded = Seeded()
    sl = sdk(live_server, seeded.key).beta.organization.spend_limits
    ir = sl.increase_requests
    user_id = seeded.members[0].user.public_id
    outsider = Seeded().members[0].user.public_id
    request_id = seeded.requests[0].public_id
    cases = [
        (lambda: sl.effective.list(user_ids=["bob"]), "user_ids[]: entry is not a valid user ID"),
        (lambda: sl.effective.list(user_ids=[f"user_{i}" for i in range(101)]),
         "user_ids[]: at most 100 values are allowed"),
        (lambda: sl.effective.list(limit=0), "limit: must be an integer between 1 and 1000"),
        (lambda: sl.effective.list(limit=1001), "limit: must be an integer between 1 and 1000"),
        (lambda: sl.effective.list(period=["daily"]), "period: not yet supported"),
        (lambda: sl.effective.list(period=["yearly"]), "period[]: must be one of daily, weekly, monthly"),
        (lambda: sl.set(scope={"type": "seat_tier", "seat_tier": "enterprise_chat"}, amount="1"),
         "scope.type: not yet supported"),
        (lambda: sl.set(scope={"type": "organization"}, amount="1"), "scope.type: not yet supported"),
        (lambda: sl.set(scope={"type": "user", "user_id": "bob"}, amount="1"), "scope.user_id: malformed"),
        (lambda: sl.set(scope={"type": "user", "user_id": outsider}, amount="1"),
         "scope.user_id: not a member of this organization"),
        (lambda: sl.set(scope={"type": "user", "user_id": user_id}, amount="-5"),
         "amount: must be a non-negative integer decimal string"),
        (lambda: sl.set(scope={"type": "user", "user_id": user_id}, amount="12.5"),
         "amount: must be a non-negative integer decimal string"),
        (lambda: sl.set(scope={"type": "user", "user_id": user_id}, amount="lots"),
         "amount: must be a non-negative integer decimal string"),
        (lambda: sl.set(scope={"type": "user", "user_id": user_id}, amount="100000000000"),
         "amount: The limit cannot exceed $10,000,000.00 a month."),
        (lambda: sl.set(scope={"type": "user", "user_id": user_id}, amount="1", period="daily"),
         "period: not yet supported"),
        (lambda: sl.delete(seeded.org_cap.public_id), "Only per-user spend limits can be deleted via this endpoint."),
        (lambda: sl.delete(seeded.tier_cap.public_id), "Only per-user spend limits can be deleted via this endpoint."),
        (lambda: sl.list(scope_type=["workspace"]),
         "scope_type[]: workspace does not apply to Enterprise organizations"),
        (lambda: sl.list(workspace_id="wrkspc_1"), "workspace_id: not supported for Enterprise organizations"),
        (lambda: ir.list(status=["maybe"]), "status[]: must be one of pending, approved, denied"),
        (lambda: ir.list(actor_ids=["bob"]), "actor_ids[]: invalid tagged user ID"),
        (lambda: ir.list(limit=5000), "limit: must be an integer between 1 and 1000"),
        (lambda: ir.approve(request_id, amount="1.5"), "amount: must be a non-negative integer decimal string"),
        (lambda: ir.approve(request_id, amount="100", period="weekly"), "period: not yet supported"),
        (lambda: ir.approve(request_id, amount="100", extra_body={"suppress_notification": "yes"}),
         "suppress_notification: must be a boolean"),
    ]
    for call, expected in cases:
        with pytest.raises(anthropic.BadRequestError) as caught:
            call()
        error = caught.value
        assert (error.status_code, error.type, error.body["error"]["message"]) == \
            (400, "invalid_request_error", expected), expected
        assert error.request_id and error.request_id == error.body["request_id"]
    # Nothing was written by any of them.
    seeded.members[0].refresh_from_db()
    assert not seeded.members[0].spend_caps.exists()
    assert seeded.requests[0].__class__.objects.get(pk=seeded.requests[0].pk).status == "pending"
