"""§8 of the contract: the verification script, every SDK call, run against the live portal."""

import anthropic
import pytest

from apps.extra_usage.models import ExtraUsageRequest, RequestStatus
from apps.organizations.models import AuditEntry

from .conftest import Seeded, sdk

pytestmark = pytest.mark.django_db(transaction=True)


def test_verification_script_passes_against_the_portal(live_server, outbox):
    seeded = Seeded()
    client = sdk(live_server, seeded.key)
    sl = client.beta.organization.spend_limits
    ir = sl.increase_requests

    # 1. effective, auto-paginated with the filters re-sent on every page
    rows = list(sl.effective.list(limit=2, period=["monthly"]))
    assert len(rows) == len(seeded.everyone)
    user_id = rows[0].scope.user_id
    one = sl.effective.list(user_ids=[user_id])
    assert [r.scope.user_id for r in one.data] == [user_id]

    # 2. retrieve the row the member resolved to
    source = sl.retrieve(rows[0].spend_limit_id)
    assert source.id == rows[0].spend_limit_id and source.type == "spend_limit"

    # 3. set (upsert) twice: same id
    a = sl.set(scope={"type": "user", "user_id": user_id}, amount="75000", period="monthly")
    eff = sl.effective.list(user_ids=[user_id], period=["monthly"]).data[0]
    assert eff.amount is not None and int(eff.amount) <= 75000
    b = sl.set(scope={"type": "user", "user_id": user_id}, amount=None)
    assert a.id == b.id and b.amount is None and b.scope.type == "user"
    eff = sl.effective.list(user_ids=[user_id], period=["monthly"]).data[0]
    assert eff.source.type in ("seat_tier", "organization") or eff.amount is None

    # 4. delete; the member falls back to the inherited row
    deleted = sl.delete(b.id)
    assert deleted.id == b.id and deleted.type == "spend_limit_deleted"
    with pytest.raises(anthropic.NotFoundError) as caught:
        sl.retrieve(b.id)
    assert caught.value.request_id.startswith("req_") and caught.value.type == "not_found_error"
    eff = sl.effective.list(user_ids=[user_id]).data
    assert [(r.period, r.source.type) for r in eff] == [("monthly", "organization")]

    # 9. the preview list
    configured = sl.list(scope_type=["organization", "seat_tier"], limit=10)
    assert [r.scope.type for r in configured.data] == ["organization", "seat_tier"]

    # 5. increase requests
    pending = list(ir.list(status=["pending"], limit=50))
    assert len(pending) == 3 and all(p.spend_summary is not None for p in pending)
    by_actor = ir.list(actor_ids=[pending[0].actor.user_id])
    assert [p.id for p in by_actor.data] == [pending[0].id]

    # 6. retrieve
    assert ir.retrieve(pending[0].id).status == "pending"

    # 7. approve, then approve again → 400
    ok = ir.approve(pending[0].id, amount="90000", suppress_notification=True)
    assert ok.status == "approved" and ok.spend_summary is None and ok.spend_limit.amount == "90000"
    assert ok.resolved_by.type == "scoped_api_key_actor" and ok.resolved_by.scoped_api_key_id.startswith("apikey_")
    with pytest.raises(anthropic.BadRequestError) as caught:
        ir.approve(pending[0].id, amount="1")
    assert caught.value.status_code == 400
    assert caught.value.body["error"]["message"] == "spend limit increase request is already resolved"

    # 8. deny twice (idempotent), deny the approved one → 400
    d1 = ir.deny(pending[1].id)
    d2 = ir.deny(pending[1].id, suppress_notification=True)
    assert d1.status == d2.status == "denied" and d1.resolved_at == d2.resolved_at
    with pytest.raises(anthropic.BadRequestError) as caught:
        ir.deny(pending[0].id)
    assert caught.value.body["error"]["message"] == "spend limit increase request is already approved"

    # What the ledger shows: the approved member's own limit is $900, decided by the key, audited.
    approved = ExtraUsageRequest.objects.get(public_id=pending[0].id)
    assert approved.status == RequestStatus.APPROVED and approved.membership.spend_caps.get().amount == 900
    actions = set(AuditEntry.objects.filter(organization=seeded.org).values_list("action", flat=True))
    assert {"cap.member", "cap.member.delete", "extra_usage_request.approve", "extra_usage_request.deny"} <= actions
    # One email: the first deny (approve and the repeat deny were suppressed / no-ops).
    assert len(outbox) == 1
