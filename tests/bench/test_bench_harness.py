"""The pieces of `make bench` that run fast: the seed's keys and data work against the real API, and the
closing exactness check holds after real recordings and catches a counter that drifted."""

import json
from pathlib import Path

import pytest
from django.db import connection

from apps.organizations.models import PlanKind
from apps.usage.models import MemberPeriodUsage
from bench import seed as bench_seed
from bench.run import EXACTNESS_SQL
from tests.conftest import ApiClient
from tests.factories import OrganizationFactory, api_key, member


def _event(key: str, email: str, tokens: int = 1000) -> dict:
    return {"idempotency_key": key, "member": email, "product": "chat", "model": "claude-sonnet-4-5",
            "usage": {"input_tokens": tokens, "output_tokens": 200}}


def _exactness() -> dict[str, int]:
    with connection.cursor() as cursor:
        found = {}
        for name, sql in EXACTNESS_SQL.items():
            cursor.execute(sql)
            found[name] = cursor.fetchone()[0]
    return found


@pytest.mark.django_db
def test_exactness_check_holds_after_recordings_with_retries_and_catches_a_drifted_counter():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    member(org, email="a@example.com", tier_code="chat_code")
    member(org, email="b@example.com", tier_code="chat_code")
    client = ApiClient(api_key(org))
    assert client.post("/usage", _event("k1", "a@example.com")).status_code == 201
    assert client.post("/usage", _event("k2", "b@example.com", 5000)).status_code == 201
    assert client.post("/usage", _event("k1", "a@example.com")).status_code == 200  # a retry: charged once
    batch = client.post("/usage/batch", {"events": [_event(f"b{n}", "a@example.com", n + 1) for n in range(5)]})
    assert [r["status"] for r in batch.json()["results"]] == [201] * 5

    assert _exactness() == dict.fromkeys(EXACTNESS_SQL, 0)

    counter = MemberPeriodUsage.objects.get(membership__user__email="b@example.com")
    MemberPeriodUsage.objects.filter(pk=counter.pk).update(spend=counter.spend + 1)
    assert _exactness()["member_counters_mismatched"] == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_seeded_keys_and_members_work_against_the_api(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(bench_seed, "ORG_COUNT", 4)
    monkeypatch.setattr(bench_seed, "HOT_ORG_MEMBERS", 12)
    monkeypatch.setattr(bench_seed, "SMALL_ORG_MEMBERS", 3)
    s = connection.settings_dict
    dsn = f"postgresql://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"

    data = bench_seed.seed(dsn)

    assert data["counts"]["organizations"] == 4
    assert data["counts"]["members"] == 12 + 3 * 3
    files = bench_seed.write_load_files(data, tmp_path)
    hot_lines = Path(files["hot"]).read_text().splitlines()
    assert len(hot_lines) == 12
    key, email = hot_lines[5].split("\t")
    answer = ApiClient(key).post("/admission", {"member": email, "product": "chat", "model": "claude-sonnet-4-5"})
    assert answer.status_code == 200, answer.content
    assert json.loads(answer.content)["allowed"] is True
    for line in Path(files["spread"]).read_text().splitlines():
        key, email = line.split("\t")
        recorded = ApiClient(key).post("/usage", _event(f"seed-{email}", email))
        assert recorded.status_code == 201, recorded.content
    assert _exactness() == dict.fromkeys(EXACTNESS_SQL, 0)
