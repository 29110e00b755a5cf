"""Dashboard benchmark: the usage dashboards of an organization with 10,000 members and 5,000,000 events in
the period (plus a full previous period), server time per page and SQL queries per page.

`python bench/dashboard_bench.py` (or `run()` from bench/run.py) creates its own database (bp_monitor_bench),
migrates it and seeds it with bulk SQL (generate_series): one usage-based Enterprise organization, 10,000
members on two seat tiers, an org cap, a tier cap and caps for every 20th member, and the daily rollups that
5,000,000 events in November 2026 (to the 25th) and 6,200,000 in October would leave — about 900,000
UsageDailyRollup rows (dashboards read rollups, never raw events, so no raw events are stored) — with the
matching member counters and organization counter slots. A 50-member organization of the same shape shows
that the query count does not grow with members or events.

Measured at 2026-11-25 12:00 UTC through Django's test client (middleware, view, template: the server time
of a request without the network), BENCH_DASHBOARD_REQUESTS requests per page (default 30) after 3 warm-ups:
p50/p95 milliseconds and queries per page, the same for the 50-member organization, the organization page
when its stored daily totals lag the counters (read live from the rollups: the worst case, until the 5-minute
sweep), and a baseline (the one-SELECT view of billing_portal/bench_views.py through the same client) with
each page's p95 as a ratio to it. Target: every page p95 < 200 ms. The database is dropped at the end
(BENCH_KEEP_DB=1 keeps it; BENCH_REUSE_DB=1 then skips the seeding). Server: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the project root

from bench.harness import (  # noqa: E402
    close_and_drop,
    django_on_own_database,
    has_rows,
    print_figures,
    run_child,
    sequences_past_rows,
    users_insert,
)

DB_NAME = os.environ.get("BENCH_DASHBOARD_DB", "bp_monitor_bench")
REQUESTS = int(os.environ.get("BENCH_DASHBOARD_REQUESTS", "30"))
MEMBERS = 10_000
SMALL_MEMBERS = 50
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
TARGET_MS = 200


def run() -> dict:
    """Run the benchmark in a child process (it needs Django set up on its own database); return its figures."""
    return run_child(__file__, "dashboard_bench")


def _seed_org(cur, *, org_id: int, members: int, first_id: int) -> None:
    """An organization with `members` members and the rollups of 500 events per member in November (to the
    25th) and as many per day in October. Ids of users and memberships start at first_id."""
    last = first_id + members - 1
    cur.execute(
        "INSERT INTO organizations_organization (id, name, slug, plan_kind, billing_timezone, currency, "
        "hipaa_ready, created_at) VALUES (%s, %s, %s, 'enterprise_usage', 'UTC', 'USD', false, '2026-01-01')",
        [org_id, f"Dashboard bench {org_id}", f"dash-{org_id}"])
    chat, code = org_id * 10 + 1, org_id * 10 + 2
    cur.execute(
        "INSERT INTO seats_seattier (id, organization_id, code, monthly_fee_currency, monthly_fee, "
        "included_usage_currency, included_usage, products, position) VALUES "
        "(%s, %s, 'chat', 'USD', 20, 'USD', 0, '[\"chat\", \"cowork\"]', 0), "
        "(%s, %s, 'chat_code', 'USD', 40, 'USD', 0, '[\"chat\", \"claude_code\", \"cowork\"]', 1)",
        [chat, org_id, code, org_id])
    users_insert(cur, first_id=first_id, last_id=last, domain="dash.bench", public_prefix="user_dash")
    cur.execute(
        "INSERT INTO organizations_membership (id, role, joined_at, user_id, organization_id) "
        "SELECT g, CASE WHEN g = %s THEN 'primary_owner' WHEN g = %s + 1 THEN 'admin' ELSE 'member' END, "
        "'2026-01-01', g, %s FROM generate_series(%s, %s) g", [first_id, first_id, org_id, first_id, last])
    cur.execute(
        "INSERT INTO seats_seatassignment (started_at, membership_id, organization_id, tier_id) "
        "SELECT '2026-09-01', g, %s, CASE WHEN g %% 4 = 0 THEN %s ELSE %s END FROM generate_series(%s, %s) g",
        [org_id, code, chat, first_id, last])
    cur.execute(
        "INSERT INTO usage_spendcap (organization_id, scope, amount, public_id, created_at, updated_at) "
        "VALUES (%s, 'organization', 2000000, 'spl_dash_org_' || %s, '2026-01-01', '2026-01-01')",
        [org_id, org_id])
    cur.execute(
        "INSERT INTO usage_spendcap (organization_id, scope, tier_id, amount, public_id, created_at, updated_at) "
        "VALUES (%s, 'seat_tier', %s, 500, 'spl_dash_tier_' || %s, '2026-01-01', '2026-01-01')",
        [org_id, code, org_id])
    cur.execute(
        "INSERT INTO usage_spendcap (organization_id, scope, membership_id, amount, public_id, created_at, "
        "updated_at) SELECT %s, 'member', g, 150 + g %% 100, 'spl_dash_m' || g, '2026-01-01', '2026-01-01' "
        "FROM generate_series(%s, %s) g WHERE g %% 20 = 0", [org_id, first_id, last])
    # Rollups: each member is active on 80% of days, on two (model, product) pairs a day, from 1 October to
    # 25 November (today); 12 or 13 events per row, i.e. 12.5 on average: 400,000 November rows hold exactly
    # 5,000,000 events for 10,000 members. Rows are inserted day by day, as the ledger creates them.
    cur.execute(
        """
        WITH models AS (SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM usage_aimodel),
        pairs AS (SELECT 0 AS k UNION ALL SELECT 1)
        INSERT INTO usage_usagedailyrollup (organization_id, membership_id, model_id, product, day, period_start,
            cost, included_cost, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, event_count)
        SELECT %(org)s, g, m.id, (ARRAY['chat', 'claude_code', 'cowork'])[1 + (g + k) %% 3], d::date,
               date_trunc('month', d)::date,
               ((g %% 37) + 1 + k * 3) * 0.0137 * (12 + (g + k) %% 2), 0,
               (12 + (g + k) %% 2) * (20000 + g %% 5000), (12 + (g + k) %% 2) * (900 + g %% 300),
               (12 + (g + k) %% 2) * 50, (12 + (g + k) %% 2) * (3000 + g %% 1000), 12 + (g + k) %% 2
        FROM generate_series(timestamp '2026-10-01', timestamp '2026-11-25', interval '1 day') d
        CROSS JOIN generate_series(%(first)s, %(last)s) g
        CROSS JOIN pairs
        JOIN models m ON m.n = (g + k * 3 + extract(day FROM d)::int) %% (SELECT count(*) FROM models)
        WHERE (g + extract(day FROM d)::int) %% 5 <> 0
        ORDER BY d, g, k
        """,
        {"org": org_id, "first": first_id, "last": last})
    cur.execute(
        "INSERT INTO usage_memberperiodusage (organization_id, membership_id, period_start, spend, "
        "included_spend, event_count) SELECT organization_id, membership_id, period_start, sum(cost), "
        "sum(included_cost), sum(event_count) FROM usage_usagedailyrollup WHERE organization_id = %s "
        "GROUP BY organization_id, membership_id, period_start", [org_id])
    cur.execute(
        "INSERT INTO usage_orgusageslot (organization_id, period_start, slot, spend, included_spend, event_count) "
        "SELECT organization_id, period_start, membership_id %% 16, sum(spend), sum(included_spend), "
        "sum(event_count) FROM usage_memberperiodusage WHERE organization_id = %s "
        "GROUP BY organization_id, period_start, membership_id %% 16", [org_id])


def _measure(client, url: str, requests: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        assert client.get(url).status_code == 200, url
    times, cpu, db = [], [], []
    for _ in range(requests):
        with CaptureQueriesContext(connection) as ctx:
            t0, c0 = time.perf_counter(), time.process_time()
            response = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        db.append(sum(float(q["time"]) for q in ctx.captured_queries) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, int(round(0.95 * len(times))) - 1)], 1),
        # Where the time goes: CPU of this (Django) process, and the wall time spent waiting on SQL.
        "django_cpu_p50_ms": round(statistics.median(cpu), 1),
        "sql_wait_p50_ms": round(statistics.median(db), 1),
        "queries": len(ctx.captured_queries),
    }


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def _measure_export(client, url: str) -> dict:
    """The usage CSV of the 10,000-member organization over 31 days, read to its end through the test client
    (the view, the server-side cursor and the CSV writer, without the network): rows a second, and the growth
    of this process's resident memory while streaming, sampled every 1,000 lines. Flat memory is the point:
    the rows are never all held at once."""
    client.get(url)  # warm-up (plans, connection)
    before = peak = _rss_mb()
    t0 = time.perf_counter()
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    lines = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
        if lines % 1000 == 0:
            peak = max(peak, _rss_mb())
    seconds = time.perf_counter() - t0
    rows = lines - 1
    return {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds),
            "peak_rss_growth_mb": round(max(peak, _rss_mb()) - before, 1)}


def _bench() -> dict:
    reuse = os.environ.get("BENCH_REUSE_DB") == "1" and has_rows(DB_NAME, "usage_usagedailyrollup")
    try:
        django_on_own_database(DB_NAME, fresh=not reuse, ALLOWED_HOSTS="testserver", BENCH_BASELINE_VIEW="true",
                               AXES_ENABLED="false", CONN_MAX_AGE="600")
        import time_machine
        from django.db import connection
        from django.test import Client
        from django.urls import reverse

        from apps.accounts.models import User
        from apps.monitoring.models import OrgDailyUsage
        from apps.monitoring.services import org_daily_refresh
        from apps.organizations.models import Organization

        t0 = time.monotonic()
        with connection.cursor() as cur:
            if not reuse:
                _seed_org(cur, org_id=1, members=MEMBERS, first_id=1)
                _seed_org(cur, org_id=2, members=SMALL_MEMBERS, first_id=MEMBERS + 1)
                sequences_past_rows(cur, ("accounts_user", "organizations_membership", "seats_seattier",
                                          "organizations_organization"))
                cur.execute("ANALYZE")
            cur.execute("SELECT count(*), sum(event_count) FROM usage_usagedailyrollup WHERE organization_id = 1 "
                        "AND period_start = '2026-11-01'")
            rollup_rows, events = cur.fetchone()
            cur.execute("SELECT count(*) FROM usage_usagedailyrollup")
            all_rollups = cur.fetchone()[0]
        seed_seconds = time.monotonic() - t0

        results: dict = {}
        with time_machine.travel(NOW, tick=True):
            client = Client()
            baseline = _measure(client, "/bench/select?id=1", REQUESTS)
            pages = {}
            for org_id, first in ((1, 1), (2, MEMBERS + 1)):
                organization = Organization.objects.get(pk=org_id)
                # The 5-minute sweep's work: rebuild the daily totals (timed, for the record).
                t0 = time.monotonic()
                for start in (dt.date(2026, 10, 1), dt.date(2026, 11, 1)):
                    org_daily_refresh(organization=organization, period_start=start)
                refresh_seconds = time.monotonic() - t0
                client.force_login(User.objects.get(pk=first))  # the primary owner
                slug = organization.slug
                urls = {
                    "dashboard": reverse("monitoring:dashboard", kwargs={"slug": slug}),
                    "dashboard_tiers": reverse("monitoring:dashboard_tiers", kwargs={"slug": slug}),
                    "dashboard_members": reverse("monitoring:dashboard_members", kwargs={"slug": slug}),
                    "dashboard_members_search": reverse("monitoring:dashboard_members", kwargs={"slug": slug})
                    + "?q=m1&sort=email&page=2",
                    "member_detail": reverse("monitoring:member_detail",
                                             kwargs={"slug": slug, "membership_id": first + 7}),
                    "my_usage": reverse("monitoring:my_usage", kwargs={"slug": slug}),
                }
                pages[org_id] = {name: _measure(client, url, REQUESTS) for name, url in urls.items()}
                if org_id == 1:
                    results["refresh_seconds_10k"] = round(refresh_seconds, 2)
                    # Worst case: the stored daily totals lag the counters (read live from the rollups).
                    OrgDailyUsage.objects.filter(organization=organization, day=dt.date(2026, 11, 3)).delete()
                    stale = _measure(client, urls["dashboard"], max(5, REQUESTS // 3))
                    export = _measure_export(client, reverse("monitoring:usage_export", kwargs={"slug": slug})
                                             + "?range=custom&from=2026-10-26&to=2026-11-25")
                    ranged = _measure(client, urls["dashboard"] + "?range=90d", max(5, REQUESTS // 3))
            big, small = pages[1], pages[2]
            for name, figures in big.items():
                results[name] = {
                    **figures,
                    "queries_50_members": small[name]["queries"],
                    "p95_vs_baseline": round(figures["p95_ms"] / baseline["p95_ms"], 1) if baseline["p95_ms"] else None,
                }
        results.update({
            "baseline_select_view": baseline,
            "dashboard_when_daily_totals_lag": stale,
            "dashboard_range_90d": ranged,
            "csv_export": export,
            "members": MEMBERS,
            "events_in_period": int(events),
            "rollup_rows_in_period": rollup_rows,
            "rollup_rows_total": all_rollups,
            "target_p95_ms": TARGET_MS,
            "all_pages_under_target": all(results[n]["p95_ms"] < TARGET_MS for n in big),
            "queries_do_not_grow": all(big[n]["queries"] == small[n]["queries"] for n in big),
            "seed_seconds": round(seed_seconds, 1),
            # The machine's load while measuring (other processes compete for the same cores).
            "load_average_1m": round(os.getloadavg()[0], 2),
            "cpu_count": os.cpu_count(),
        })
        return results
    finally:
        close_and_drop(DB_NAME)


def main() -> int:
    return print_figures(_bench())


if __name__ == "__main__":
    sys.exit(main())
