"""Invoice benchmark: the monthly invoice of an organization of 10,000 members with a month of usage.

`python bench/invoice_bench.py` (or `run()` from bench/run.py) creates its own database (bp_invoice_bench),
migrates it, seeds with bulk SQL (INSERT … SELECT generate_series): one usage-based Enterprise organization
(HIPAA-ready) with 10,000 members holding seats since the previous month, 10% of them upgraded mid-month
(with their SeatCharges), BENCH_INVOICE_EVENTS usage events (default 1,500,000) spread over November 2026
across every model and product, and the matching daily rollups; plus a 50-member organization with the same
shape. It then issues both invoices through invoice_issue_for_period and reports:

- invoice_10k_seconds: wall time to issue the 10,000-member invoice (target < 30 s);
- invoice_queries / invoice_queries_50_members: SQL queries for each (equal: they do not grow with members);
- baseline_scan_seconds: one `SELECT sum(cost), count(*)` over the month's events, the irreducible read,
  and invoice_vs_scan, the ratio of the two;
- usage_aggregate_seconds / lines_compute_seconds: the usage aggregate alone (per member and per model ×
  product) and the whole line computation (run again after issuing, warm), to show where the time goes;
- events, lines, and reconciled (the unrounded usage lines add up to the events' costs exactly).

The database is dropped at the end (BENCH_KEEP_DB=1 keeps it). Server: BENCH_PG_URL (default
postgres://postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the project root

from bench.harness import (  # noqa: E402
    close_and_drop,
    django_on_own_database,
    print_figures,
    run_child,
    sequences_past_rows,
    users_insert,
)

DB_NAME = os.environ.get("BENCH_INVOICE_DB", "bp_invoice_bench")
EVENTS = int(os.environ.get("BENCH_INVOICE_EVENTS", "1500000"))
MEMBERS = 10_000
SMALL_MEMBERS = 50
PERIOD = dt.date(2026, 11, 1)
ISSUE_AT = dt.datetime(2026, 12, 1, 0, 20, tzinfo=dt.UTC)


def run() -> dict:
    """Run the benchmark in a child process (it needs Django set up on its own database); return its figures."""
    return run_child(__file__, "invoice_bench")


class _BulkLoad:
    """Drop a table's secondary indexes and unique constraints (and skip FK triggers: the seed is consistent by
    construction) while bulk-inserting, then rebuild them: much faster than maintaining them row by row."""

    def __init__(self, cur, tables: list[str]):
        self.cur, self.tables, self.rebuild = cur, tables, []

    def __enter__(self):
        cur = self.cur
        cur.execute("SET session_replication_role = replica")
        for table in self.tables:
            cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conrelid = %s::regclass AND contype = 'u'", [table])
            for name, definition in cur.fetchall():
                cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                self.rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            cur.execute("SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND NOT EXISTS "
                        "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)", [table])
            for name, definition in cur.fetchall():
                cur.execute(f'DROP INDEX "{name}"')
                self.rebuild.append(definition)
        return self

    def __exit__(self, *exc):
        self.cur.execute("SET session_replication_role = DEFAULT")
        if exc[0] is None:
            for statement in self.rebuild:
                self.cur.execute(statement)


def _seed_org(cur, *, org_id: int, members: int, events: int, first_id: int) -> None:
    """One usage-based Enterprise organization, its tiers, members, seats (10% upgraded on the 12th) and a
    month of events, all in SQL. Ids of users/memberships/seats start at first_id."""
    cur.execute(
        "INSERT INTO organizations_organization (id, name, slug, plan_kind, billing_timezone, currency, "
        "hipaa_ready, created_at) VALUES (%s, %s, %s, 'enterprise_usage', 'UTC', 'USD', true, '2026-01-01')",
        [org_id, f"Invoice bench {org_id}", f"invoice-bench-{org_id}"],
    )
    chat, code = org_id * 10 + 1, org_id * 10 + 2
    cur.execute(
        "INSERT INTO seats_seattier (id, organization_id, code, monthly_fee_currency, monthly_fee, "
        "included_usage_currency, included_usage, products, position) VALUES "
        "(%s, %s, 'chat', 'USD', 20, 'USD', 0, '[\"chat\", \"cowork\"]', 0), "
        "(%s, %s, 'chat_code', 'USD', 40, 'USD', 0, '[\"chat\", \"claude_code\", \"cowork\"]', 1)",
        [chat, org_id, code, org_id],
    )
    last = first_id + members - 1
    users_insert(cur, first_id=first_id, last_id=last, domain="invoice.bench", public_prefix="user_invbench",
                 named=False)
    cur.execute(
        "INSERT INTO organizations_membership (id, role, joined_at, user_id, organization_id) "
        "SELECT g, CASE WHEN g = %s THEN 'primary_owner' ELSE 'member' END, '2026-01-01', g, %s "
        "FROM generate_series(%s, %s) g", [first_id, org_id, first_id, last])
    # Everyone on Chat since October; every tenth member upgraded to Chat + Claude Code on November 12.
    cur.execute(
        "INSERT INTO seats_seatassignment (started_at, ended_at, membership_id, organization_id, tier_id) "
        "SELECT '2026-10-01', CASE WHEN g %% 10 = 0 THEN timestamptz '2026-11-12 09:00+00' END, g, %s, %s "
        "FROM generate_series(%s, %s) g", [org_id, chat, first_id, last])
    cur.execute(
        "INSERT INTO seats_seatassignment (started_at, membership_id, organization_id, tier_id) "
        "SELECT '2026-11-12 09:00+00', g, %s, %s FROM generate_series(%s, %s) g WHERE g %% 10 = 0",
        [org_id, code, first_id, last])
    cur.execute(
        "INSERT INTO seats_seatcharge (organization_id, membership_id, from_tier_id, to_tier_id, period_start, "
        "amount_currency, amount, remaining_days, period_days, created_at) "
        "SELECT %s, g, %s, %s, '2026-11-01', 'USD', 12.67, 19, 30, '2026-11-12 09:00+00' "
        "FROM generate_series(%s, %s) g WHERE g %% 10 = 0", [org_id, chat, code, first_id, last])
    # Events: a deterministic spread over members, models, products and the month; cost = tokens × rates.
    cur.execute(
        """
        WITH prices AS (
            SELECT DISTINCT ON (model_id) id, model_id, input, output, cache_write, cache_read
            FROM usage_modelprice ORDER BY model_id, effective_from DESC
        ), numbered AS (SELECT row_number() OVER (ORDER BY model_id) - 1 AS n, * FROM prices)
        INSERT INTO usage_usageevent (organization_id, membership_id, idempotency_key, fingerprint, product,
            model_id, price_id, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, long_context,
            rate_input, rate_output, rate_cache_write, rate_cache_read, cost, included_cost, funding, occurred_at,
            received_at, period_start, member_month_to_date, blocked_after)
        SELECT %(org)s, %(first)s + (g * 7919) %% %(members)s, 'inv-' || %(org)s || '-' || g, '',
               (ARRAY['chat', 'claude_code', 'cowork'])[1 + g %% 3], p.model_id, p.id,
               t.i, t.o, t.cw, t.cr, false, p.input, p.output, p.cache_write, p.cache_read,
               (t.i * p.input + t.o * p.output + t.cw * p.cache_write + t.cr * p.cache_read) / 1000000,
               0, 'pooled', ts, ts, '2026-11-01', 0, false
        FROM generate_series(1::bigint, %(events)s::bigint) g
        CROSS JOIN LATERAL (SELECT (g * 104729) %% 150000 AS i, (g * 7907) %% 4000 AS o,
                                   (g * 613) %% 3000 AS cw, (g * 2477) %% 60000 AS cr,
                                   timestamptz '2026-11-01 00:00+00'
                                       + ((g * 15485863::bigint) %% 2591999) * interval '1 second' AS ts) t
        JOIN numbered p ON p.n = g %% (SELECT count(*) FROM numbered)
        """,
        {"org": org_id, "first": first_id, "members": members, "events": events},
    )
    cur.execute(
        """
        INSERT INTO usage_usagedailyrollup (organization_id, membership_id, model_id, product, day, period_start,
            cost, included_cost, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, event_count)
        SELECT organization_id, membership_id, model_id, product, (occurred_at AT TIME ZONE 'UTC')::date,
               period_start, sum(cost), sum(included_cost), sum(input_tokens), sum(output_tokens),
               sum(cache_write_tokens), sum(cache_read_tokens), count(*)
        FROM usage_usageevent WHERE organization_id = %s
        GROUP BY organization_id, membership_id, model_id, product, (occurred_at AT TIME ZONE 'UTC')::date,
                 period_start
        """, [org_id])


def _bench() -> dict:
    try:
        # The invoice's PDF and email are tasks of their own in production (queued after the commit): queue them
        # in memory here, as `make bench` queues them to Redis, so a run on its own times the same work.
        django_on_own_database(DB_NAME, CELERY_BROKER_URL=os.environ.get("CELERY_BROKER_URL", "memory://"))
        from django.db import connection
        from django.db.models import Sum
        from django.test.utils import CaptureQueriesContext

        from apps.invoicing.models import LineKind
        from apps.invoicing.services import invoice_issue_for_period
        from apps.organizations.models import Organization
        from apps.usage.models import UsageEvent

        t0 = time.monotonic()
        with connection.cursor() as cur:
            with _BulkLoad(cur, ["usage_usageevent", "usage_usagedailyrollup"]):
                _seed_org(cur, org_id=1, members=MEMBERS, events=EVENTS, first_id=1)
                _seed_org(cur, org_id=2, members=SMALL_MEMBERS, events=SMALL_MEMBERS * 100, first_id=MEMBERS + 1)
            sequences_past_rows(cur, ("accounts_user", "organizations_membership", "seats_seatassignment",
                                      "seats_seattier", "organizations_organization"))
            # A month of events is long settled when it is invoiced: vacuumed (hint bits, visibility map) and
            # analyzed. Without this, the first read of 1.5M fresh rows pays for it, racing autovacuum.
            cur.execute("VACUUM ANALYZE usage_usageevent")
            cur.execute("VACUUM ANALYZE usage_usagedailyrollup")
            cur.execute("ANALYZE")
        seed_seconds = time.monotonic() - t0

        with connection.cursor() as cur:
            t0 = time.monotonic()
            cur.execute("SELECT sum(cost), count(*) FROM usage_usageevent WHERE organization_id = 1 "
                        "AND period_start = '2026-11-01'")
            event_sum, event_count = cur.fetchone()
            scan_seconds = time.monotonic() - t0

        figures = {}
        for org_id in (2, 1):
            organization = Organization.objects.get(pk=org_id)
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.monotonic()
                invoice = invoice_issue_for_period(organization=organization, period_start=PERIOD, now=ISSUE_AT)
                seconds = time.monotonic() - t0
            figures[org_id] = (seconds, len(ctx.captured_queries), invoice)
        seconds, queries, invoice = figures[1]
        # Where the time goes (warm caches): the usage GROUP BY alone, then the whole line computation.
        from apps.common.periods import period_for_start
        from apps.invoicing.selectors import _usage_aggregate, invoice_lines_compute

        organization = Organization.objects.get(pk=1)
        period = period_for_start(PERIOD, "UTC")
        t0 = time.monotonic()
        _usage_aggregate(organization=organization, period=period, usage_from=invoice.usage_from,
                         usage_cutoff=invoice.usage_cutoff, with_included=False)
        aggregate_seconds = time.monotonic() - t0
        t0 = time.monotonic()
        invoice_lines_compute(organization=organization, period=period,
                              usage_from=invoice.usage_from, usage_cutoff=invoice.usage_cutoff)
        compute_seconds = time.monotonic() - t0
        usage_sum = invoice.lines.filter(kind=LineKind.USAGE).aggregate(s=Sum("unrounded_amount"))["s"]
        return {
            "invoice_10k_seconds": round(seconds, 2),
            "invoice_queries": queries,
            "invoice_queries_50_members": figures[2][1],
            "invoice_50_members_seconds": round(figures[2][0], 3),
            "usage_aggregate_seconds": round(aggregate_seconds, 2),
            "lines_compute_seconds": round(compute_seconds, 2),
            "baseline_scan_seconds": round(scan_seconds, 3),
            "invoice_vs_scan": round(seconds / scan_seconds, 2) if scan_seconds else None,
            "events": event_count,
            "members": MEMBERS,
            "lines": invoice.lines.count(),
            "total": str(invoice.total),
            "reconciled": usage_sum == event_sum
            and UsageEvent.objects.filter(organization_id=1).count() == event_count,
            "seed_seconds": round(seed_seconds, 1),
            "target_seconds": 30,
        }
    finally:
        close_and_drop(DB_NAME)


def main() -> int:
    return print_figures(_bench())


if __name__ == "__main__":
    sys.exit(main())
