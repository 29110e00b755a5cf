"""The audit log: every audited change as a sentence, filtered by kind, actor and dates, and exported as CSV."""

import ast
import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.console.audit import SENTENCES, audit_sentence
from apps.organizations.models import AuditEntry
from apps.organizations.services import audit_record
from apps.usage.models import CapScope
from apps.usage.services import cap_set

from .conftest import client_for

pytestmark = pytest.mark.django_db
APPS = Path(__file__).resolve().parents[2] / "apps"


def _audited_actions() -> set[str]:
    """Every literal `action=` an audit_record call in apps/ passes, with f-string parts expanded from the
    values the code gives them (cap scopes, prepaid charge kinds)."""
    found = set()
    for path in APPS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "audit_record":
                for keyword in node.keywords:
                    if keyword.arg == "action" and isinstance(keyword.value, ast.Constant):
                        found.add(keyword.value.value)
    return found | {"cap.organization", "cap.seat_tier", "cap.member", "prepaid.purchase", "prepaid.auto_reload",
                    "prepaid.purchase.failed", "prepaid.auto_reload.failed"}


def test_every_audited_action_reads_as_its_own_sentence():
    missing = sorted(_audited_actions() - set(SENTENCES))
    assert not missing, f"audit actions without a sentence in apps/console/audit.py: {missing}"


@pytest.mark.parametrize("action,target,old,new,sentence", [
    ("cap.organization", "organization", None, "500.00",
     "Set the organization's monthly spend limit to $500.00 (was unlimited)."),
    ("cap.seat_tier", "tier:premium", "100.00", None,
     "Set the monthly spend limit of Premium seats to unlimited (was $100.00)."),
    ("cap.member", "member:ann@acme.test", "10.00", "0.00",
     "Set the monthly spend limit of ann@acme.test to $0.00 (was $10.00)."),
    ("seat.change", "ann@acme.test", "standard", "premium",
     "Moved ann@acme.test from a Standard seat to a Premium seat."),
    ("seat.change", "ann@acme.test", None, "chat_code", "Gave ann@acme.test a Chat + Claude Code seat."),
    ("member.role", "ann@acme.test", "member", "admin", "Changed the role of ann@acme.test from Member to Admin."),
    ("extra_usage.auto_reload", "organization", {"auto_reload_enabled": False},
     {"auto_reload_enabled": True, "reload_threshold": "100.00", "reload_amount": "50.00",
      "monthly_reload_limit": None},
     "Turned auto-reload on: buy $50.00 when the balance reaches $100.00, with no monthly limit."),
    ("extra_usage_request.approve", "ann@acme.test", {"status": "pending"},
     {"status": "approved", "outcome": "moved_to_premium", "amount": None},
     "Approved the extra usage request of ann@acme.test: moved them to a Premium seat."),
    ("admin_api_key.create", "key_1", None, {"name": "CI", "scopes": ["read:spend_limits", "write:spend_limits"]},
     "Created the Admin API key “CI” (read spend limits, write spend limits)."),
    ("some.future_kind", "organization", {"x": 1}, {"x": 2}, "Changed some future kind: x: 1 → x: 2."),
])
def test_sentences_people_read(action, target, old, new, sentence):
    entry = AuditEntry(action=action, target=target, old_value=old, new_value=new)
    assert audit_sentence(entry) == sentence


def _entry(team, action, *, actor, when, target="organization", new=None):
    with transaction.atomic():
        audit_record(organization=team.org, actor=actor, action=action, target=target, new=new, now=when)


def test_filters_by_kind_actor_and_local_dates(team):
    d = lambda day: dt.datetime(2026, 11, day, 12, tzinfo=dt.UTC)  # noqa: E731
    _entry(team, "cap.organization", actor=team.owner.user, when=d(2), new="10.00")
    _entry(team, "cap.member", actor=team.primary.user, when=d(5), target="member:member@acme.test", new="5.00")
    _entry(team, "member.role", actor=team.owner.user, when=d(9), target="admin@acme.test", new="admin")
    client = client_for(team.owner)
    page = client.get(f"/orgs/{team.org.slug}/settings/audit-log/?kind=cap").content.decode()
    assert page.count('class="change-row"') == 2 and "Changed the role" not in page
    page = client.get(f"/orgs/{team.org.slug}/settings/audit-log/?actor=owner%40acme.test").content.decode()
    assert page.count('class="change-row"') == 2 and "member@acme.test to $5.00" not in page
    page = client.get(f"/orgs/{team.org.slug}/settings/audit-log/?since=2026-11-03&until=2026-11-05").content.decode()
    assert page.count('class="change-row"') == 1 and "member@acme.test to $5.00" in page
    bad = client.get(f"/orgs/{team.org.slug}/settings/audit-log/?since=2026-11-09&until=2026-11-01")
    assert bad.status_code == 400 and "The end date is before the start date." in bad.content.decode()


def test_csv_export_follows_the_filters(team):
    cap_set(organization=team.org, scope=CapScope.ORGANIZATION, amount=Decimal("250"), actor=team.owner.user)
    _entry(team, "member.role", actor=team.owner.user, when=dt.datetime(2026, 11, 9, tzinfo=dt.UTC),
           target="admin@acme.test", new="admin")
    response = client_for(team.owner).get(f"/orgs/{team.org.slug}/settings/audit-log/export.csv?kind=cap")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["action"], json.loads(r["new_value"]), r["actor"]) for r in rows] == [
        ("cap.organization", "250.00", "owner@acme.test")]
    assert rows[0]["description"] == "Set the organization's monthly spend limit to $250.00 (was unlimited)."
    assert dt.datetime.fromisoformat(rows[0]["time"]).utcoffset() == dt.timedelta(0)


def test_admins_members_and_outsiders_get_a_404(team):
    # Owners only (issue 26): the log records identity, webhook and key settings admins do not see.
    for who in (team.admin, team.member, team.outsider):
        assert client_for(who).get(f"/orgs/{team.org.slug}/settings/audit-log/").status_code == 404
        assert client_for(who).get(f"/orgs/{team.org.slug}/settings/audit-log/export.csv").status_code == 404


def test_audit_log_query_count_does_not_grow_with_entries(team):
    client = client_for(team.owner)
    url = f"/orgs/{team.org.slug}/settings/audit-log/"
    cap_set(organization=team.org, scope=CapScope.ORGANIZATION, amount=Decimal("1"), actor=team.owner.user)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for amount in range(2, 60):
        cap_set(organization=team.org, scope=CapScope.ORGANIZATION, amount=Decimal(amount), actor=team.owner.user)
    with CaptureQueriesContext(connection) as many:
        page = client.get(url).content.decode()
    assert len(many.captured_queries) == len(few.captured_queries), [q["sql"] for q in many.captured_queries]
    assert page.count('class="change-row"') == 50 and "Page 1 of 2" in page
