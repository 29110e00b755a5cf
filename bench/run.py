"""`make bench`: the machine API's hot path and the heavy pages, measured against baselines in one run.

One command, on this machine, against the local PostgreSQL (see docs/scaling.md for what the figures mean):

1. pgbench baselines (`-S` select-only, `-N` simple-update) on a database of their own, at 1/16/64 clients.
2. A fresh database (`bp_bench_run`), migrated, seeded with bulk SQL (bench/seed.py: 1,000 organizations, one
   with 10,000 members, caps, seats, extra usage, API keys whose raw values the Lua scripts know).
3. gunicorn with production settings (DEBUG off, persistent connections) serving the app and the one-SELECT
   baseline view (billing_portal/bench_views.py), driven by wrk with the Lua scripts in bench/lua/:
   the select view, admission, single-event usage (10% deliberate retries), 1,000-event batches, each at
   1/16/64 connections, and the hot organization against the spread case at 16 connections.
4. The exactness check: counters and rollups equal the sums of the stored events, no key stored twice, every
   retry answered as a replay.
5. bench/invoice_bench.py, bench/dashboard_bench.py and bench/analytics_bench.py `run()` when present (they seed
   their own data).
6. A table with ratios to the baselines, bench/results/latest.json and bench/results/latest.png.

Environment knobs: BENCH_SECONDS (per point, default 8), BENCH_WORKERS / BENCH_THREADS / BENCH_WORKER_CLASS
(gunicorn, default 4 gthread workers × 4 threads), BENCH_PG_URL (server, default postgres://postgres@127.0.0.1:5432),
REDIS_URL (rate limiter and Celery broker for the server; default redis://127.0.0.1:6379/15), BENCH_KEEP_DB=1,
BENCH_DB / BENCH_PGBENCH_DB (database names), BENCH_SKIP_ADDONS=1 (skip the invoice and dashboard benchmarks).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from bench import compare as bench_compare  # noqa: E402

PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
BENCH_DB = os.environ.get("BENCH_DB", "bp_bench_run")
PGBENCH_DB = os.environ.get("BENCH_PGBENCH_DB", "bp_bench_pgbench")
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
CONNECTIONS = [int(c) for c in os.environ.get("BENCH_CONNECTIONS", "1,16,64").split(",")]
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "gthread")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
RETRY_RATE = 0.10
HOT_CONNECTIONS = 16
CLK_TCK = os.sysconf("SC_CLK_TCK")

SERVER_ENV = {
    "DATABASE_URL": f"{PG_URL}/{BENCH_DB}",
    "SECRET_KEY": "bench-" + "k" * 50,
    "DEBUG": "false",
    "SECURE_SSL_REDIRECT": "false",
    "ALLOWED_HOSTS": "127.0.0.1",
    "CONN_MAX_AGE": "600",
    "BENCH_BASELINE_VIEW": "true",
    "REDIS_URL": REDIS_URL,
    "CELERY_BROKER_URL": REDIS_URL,
    "LOG_LEVEL": "ERROR",
    "SITE_URL": "http://127.0.0.1",  # production refuses to start without one (apps/ops/checks.py)
}


def log(message: str) -> None:
    print(f"[bench {dt.datetime.now(dt.UTC):%H:%M:%S}] {message}", flush=True)


# --- processes and CPU accounting ------------------------------------------------------------------------------


def run_measured(cmd: list[str], **kwargs) -> tuple[str, float, int]:
    """Run a command to completion; returns its output, wall seconds and exit code (wrap in ChildCpu for the
    command's own CPU time, so the load generator's CPU is reported next to what it measured)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)
    out, _ = proc.communicate()
    wall = time.monotonic() - started
    return out, wall, proc.returncode


class ChildCpu:
    """CPU seconds used by finished children of this process (wrk, pgbench), by difference."""

    def __enter__(self):
        usage = os.times()
        self.start = usage.children_user + usage.children_system
        return self

    def __exit__(self, *exc):
        usage = os.times()
        self.seconds = usage.children_user + usage.children_system - self.start


def proc_cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (FileNotFoundError, IndexError, ValueError):
            continue
    return total / CLK_TCK


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies from /proc/stat, for the share of the machine in use during a point."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# --- PostgreSQL -----------------------------------------------------------------------------------------------


def psql(sql: str, db: str = "postgres") -> str:
    url = f"{PG_URL}/{db}"
    return subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def recreate_db(name: str) -> None:
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{name}"')


def pgbench_url_parts() -> list[str]:
    m = re.match(r"postgres(?:ql)?://(?:(?P<user>[^@:/]+)@)?(?P<host>[^:/]+)(?::(?P<port>\d+))?", PG_URL)
    return ["-h", m["host"], "-p", m["port"] or "5432", "-U", m["user"] or "postgres"]


def pgbench_baselines() -> dict:
    """`pgbench -S` (one indexed SELECT per transaction) and `-N` (simple update: 3 UPDATE/INSERT, no hot
    branch/teller rows) on their own database, same server, same client counts as the app."""
    recreate_db(PGBENCH_DB)
    log("pgbench -i -s 10")
    subprocess.run(["pgbench", *pgbench_url_parts(), "-i", "-q", "-s", "10", PGBENCH_DB], check=True,
                   capture_output=True)
    results = {}
    for mode in ("S", "N"):
        for clients in CONNECTIONS:
            cmd = ["pgbench", *pgbench_url_parts(), f"-{mode}", "-n", "-c", str(clients),
                   "-j", str(min(clients, 2)), "-T", str(SECONDS), PGBENCH_DB]
            busy0 = machine_busy()
            with ChildCpu() as cpu:
                out, wall, code = run_measured(cmd)
            busy1 = machine_busy()
            if code != 0:
                raise RuntimeError(f"pgbench failed: {out}")
            tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)[1])
            latency = float(re.search(r"latency average = ([\d.]+) ms", out)[1])
            results[f"{mode}_{clients}"] = {
                "tps": round(tps, 1), "latency_avg_ms": latency, "generator_cpu_s": round(cpu.seconds, 2),
                "wall_s": round(wall, 2), "machine_busy": _busy(busy0, busy1),
            }
            log(f"pgbench -{mode} c={clients}: {tps:,.0f} tps, avg {latency} ms")
    psql(f'DROP DATABASE IF EXISTS "{PGBENCH_DB}" WITH (FORCE)')
    return results


def _busy(before, after) -> float:
    busy, total = after[0] - before[0], after[1] - before[1]
    return round(busy / total, 3) if total else 0.0


# --- the app under gunicorn -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn serving billing_portal with production settings on a free local port."""

    def __init__(self, env: dict, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [str(VENV_BIN / "gunicorn"), "billing_portal.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
               "--workers", str(WORKERS), "--worker-class", WORKER_CLASS, "--threads", str(THREADS),
               "--keep-alive", "30", "--backlog", "2048", "--graceful-timeout", "10", "--log-level", "warning",
               "--error-logfile", str(log_path)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/bench/select?id=1", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"gunicorn did not start; see {log_path}")

    def worker_pids(self) -> list[int]:
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except FileNotFoundError:
            return []
        return [self.proc.pid, *map(int, children)]

    def drain(self, limit: float = 90.0) -> float:
        """Wait until the workers are idle (requests wrk gave up on are still queued after it stops), so one
        point's backlog does not run into the next. Returns the seconds waited."""
        started = time.monotonic()
        last = proc_cpu_seconds(self.worker_pids())
        while time.monotonic() - started < limit:
            time.sleep(0.5)
            now = proc_cpu_seconds(self.worker_pids())
            if now - last < 0.03:
                break
            last = now
        return round(time.monotonic() - started, 1)

    def stop(self) -> None:
        pids = self.worker_pids()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in pids[1:]:  # a worker still busy when the master went: end it too (our own children only)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def wrk(server: Server, script: str, connections: int, args: list[str], seconds: int = SECONDS,
        timeout: str = "10s") -> dict:
    """One wrk point; returns the Lua summary plus rates, the generator's and the server's CPU."""
    threads = 1 if connections == 1 else 2
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", timeout,
           "-s", f"bench/lua/{script}", server.url, "--", *args]
    pids = server.worker_pids()
    app0, busy0 = proc_cpu_seconds(pids), machine_busy()
    with ChildCpu() as cpu:
        out, wall, code = run_measured(cmd, cwd=ROOT)
    app1, busy1 = proc_cpu_seconds(pids), machine_busy()
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if code != 0 or line is None:
        raise RuntimeError(f"wrk failed ({' '.join(cmd)}):\n{out}")
    data = json.loads(line[len("BENCH_JSON "):])
    duration = data["duration_us"] / 1e6
    data.update({
        "connections": connections,
        "rps": round(data["requests"] / duration, 1),
        "p50_ms": round(data["p50_us"] / 1000, 2),
        "p99_ms": round(data["p99_us"] / 1000, 2),
        "generator_cpu_s": round(cpu.seconds, 2),
        "generator_cpu_share": round(cpu.seconds / duration, 3),
        "app_cpu_s": round(app1 - app0, 2),
        "machine_busy": _busy(busy0, busy1),
        "seconds": round(duration, 2),
    })
    bad = {k: v for k, v in data["statuses"].items() if not k.startswith("2")}
    data["non_2xx"] = sum(bad.values())
    return data


# --- the exactness check --------------------------------------------------------------------------------------

EXACTNESS_SQL = {
    "member_counters_mismatched": """
        WITH e AS (SELECT membership_id, period_start, sum(cost) c, sum(included_cost) i, count(*) n
                   FROM usage_usageevent GROUP BY 1, 2)
        SELECT count(*) FROM usage_memberperiodusage m FULL JOIN e USING (membership_id, period_start)
        WHERE coalesce(m.spend, 0) <> coalesce(e.c, 0) OR coalesce(m.included_spend, 0) <> coalesce(e.i, 0)
           OR coalesce(m.event_count, 0) <> coalesce(e.n, 0)""",
    "org_slots_mismatched": """
        WITH s AS (SELECT organization_id, period_start, sum(spend) c, sum(included_spend) i, sum(event_count) n
                   FROM usage_orgusageslot GROUP BY 1, 2),
             e AS (SELECT organization_id, period_start, sum(cost) c, sum(included_cost) i, count(*) n
                   FROM usage_usageevent GROUP BY 1, 2)
        SELECT count(*) FROM s FULL JOIN e USING (organization_id, period_start)
        WHERE coalesce(s.c, 0) <> coalesce(e.c, 0) OR coalesce(s.i, 0) <> coalesce(e.i, 0)
           OR coalesce(s.n, 0) <> coalesce(e.n, 0)""",
    "daily_rollups_mismatched": """
        WITH e AS (SELECT ev.membership_id, (ev.occurred_at AT TIME ZONE o.billing_timezone)::date AS day,
                          ev.model_id, ev.product, sum(ev.cost) c, sum(ev.included_cost) i,
                          sum(ev.input_tokens) it, sum(ev.output_tokens) ot, sum(ev.cache_write_tokens) cw,
                          sum(ev.cache_read_tokens) cr, count(*) n
                   FROM usage_usageevent ev JOIN organizations_organization o ON o.id = ev.organization_id
                   GROUP BY 1, 2, 3, 4)
        SELECT count(*) FROM usage_usagedailyrollup r FULL JOIN e USING (membership_id, day, model_id, product)
        WHERE coalesce(r.cost, 0) <> coalesce(e.c, 0) OR coalesce(r.included_cost, 0) <> coalesce(e.i, 0)
           OR coalesce(r.input_tokens, 0) <> coalesce(e.it, 0) OR coalesce(r.output_tokens, 0) <> coalesce(e.ot, 0)
           OR coalesce(r.cache_write_tokens, 0) <> coalesce(e.cw, 0)
           OR coalesce(r.cache_read_tokens, 0) <> coalesce(e.cr, 0)
           OR coalesce(r.event_count, 0) <> coalesce(e.n, 0)""",
    "keys_stored_twice": """
        SELECT count(*) FROM (SELECT 1 FROM usage_usageevent GROUP BY organization_id, idempotency_key
                              HAVING count(*) > 1) d""",
    "events_priced_wrong": """
        SELECT count(*) FROM usage_usageevent
        WHERE cost <> (input_tokens * rate_input + output_tokens * rate_output + cache_write_tokens * rate_cache_write
                       + cache_read_tokens * rate_cache_read) / 1000000""",
}


def exactness_check(usage_points: list[dict]) -> dict:
    """Counters equal the sums of stored events; every key is stored once; every deliberate retry was answered
    200 (a replay: nothing charged) and every new event 201. Requests still in flight when wrk stopped (at most
    one per connection) may be stored without wrk seeing their answer; the check allows exactly that."""
    found = {name: int(psql(sql, BENCH_DB)) for name, sql in EXACTNESS_SQL.items()}
    retries, replays, inflight, created_seen, created_stored = 0, 0, 0, 0, 0
    for point in usage_points:
        retries += point["retries_sent"]
        replays += point["statuses"].get("200", 0)
        created_seen += point["statuses"].get("201", 0)
        inflight += point["connections"]
        created_stored += int(psql(
            f"SELECT count(*) FROM usage_usageevent WHERE idempotency_key LIKE '{point['tag']}-%'", BENCH_DB))
    non_2xx = sum(p["non_2xx"] for p in usage_points)
    retries_ok = 0 <= retries - replays <= inflight
    created_ok = 0 <= created_stored - created_seen <= inflight
    exact = all(v == 0 for v in found.values()) and retries_ok and created_ok and non_2xx == 0
    return {
        **found,
        "retries_sent": retries, "retries_answered_as_replay": replays, "new_events_answered_201": created_seen,
        "new_events_stored": created_stored, "in_flight_allowance": inflight, "usage_non_2xx": non_2xx,
        "events_total": int(psql("SELECT count(*) FROM usage_usageevent", BENCH_DB)),
        "exact": exact,
    }


# --- the other engineers' benchmarks ----------------------------------------------------------------------------


def optional_bench(module: str) -> dict:
    """bench/invoice_bench.py and bench/dashboard_bench.py expose run() -> dict; absent → noted, not failed."""
    if not (ROOT / "bench" / f"{module}.py").exists():
        return {"present": False}
    log(f"running bench/{module}.py")
    try:
        started = time.monotonic()
        result = importlib.import_module(f"bench.{module}").run()
        return {"present": True, "seconds": round(time.monotonic() - started, 1), **(result or {})}
    except Exception as exc:  # one broken add-on must not lose the rest of the run
        return {"present": True, "error": f"{type(exc).__name__}: {exc}"}


# --- report ----------------------------------------------------------------------------------------------------


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def print_table(results: dict) -> None:
    rows = []
    for name, points in results["wrk"].items():
        for p in points:
            rate = p.get("events_per_s", p["rps"])
            rows.append((name, p["connections"], p["rps"], rate, p["p50_ms"], p["p99_ms"],
                         p["generator_cpu_share"], p["app_cpu_s"], p["non_2xx"]))
    print()
    print(f"{'scenario':<18}{'conns':>6}{'req/s':>10}{'events/s':>11}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'wrk cpu':>9}{'app cpu s':>10}{'non-2xx':>9}")
    for r in rows:
        print(f"{r[0]:<18}{r[1]:>6}{r[2]:>10,.0f}{r[3]:>11,.0f}{r[4]:>9.2f}{r[5]:>9.2f}{r[6]:>9.2f}{r[7]:>10.1f}"
              f"{r[8]:>9}")
    print()
    for mode in ("S", "N"):
        line = ", ".join(f"c={c}: {results['pgbench'][f'{mode}_{c}']['tps']:,.0f} tps" for c in CONNECTIONS)
        print(f"pgbench -{mode}: {line}")
    print()
    targets = results["targets"]
    for key, value in results["summary"].items():
        target = targets.get(key)
        mark = ""
        if target is not None and value is not None:  # None: an add-on benchmark failed (its error is in the JSON)
            op, bound = target
            met = value >= bound if op == ">=" else value <= bound
            mark = f"  (target {op} {bound}: {'met' if met else 'MISSED'})"
        print(f"{key:<34}{value}{mark}")
    print()


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    series = {
        "select view (req/s)": ("select_view", "rps"),
        "admission (req/s)": ("admission", "rps"),
        "usage, single (events/s)": ("usage_single", "events_per_s"),
        "usage, batch (events/s)": ("usage_batch", "events_per_s"),
    }
    for label, (name, field) in series.items():
        points = results["wrk"].get(name, [])
        if points:
            xs = [p["connections"] for p in points]
            ax1.plot(xs, [p[field] for p in points], marker="o", label=label)
            if name != "usage_batch":
                ax2.plot(xs, [p["p99_ms"] for p in points], marker="o", label=label.split(" (")[0])
    for mode, style in (("S", "--"), ("N", ":")):
        ax1.plot(CONNECTIONS, [results["pgbench"][f"{mode}_{c}"]["tps"] for c in CONNECTIONS], style, marker="x",
                 label=f"pgbench -{mode} (tps)")
    # A batch point whose requests all outlasted the window has no latency: leave it out of the p99 plot.
    batch = [p for p in results["wrk"].get("usage_batch", []) if p["p99_ms"] > 0]
    if batch:
        ax2.plot([p["connections"] for p in batch], [p["p99_ms"] for p in batch], marker="o", label="batch (1,000)")
    for ax, title, ylabel in ((ax1, "Throughput by concurrency", "per second (log)"),
                              (ax2, "p99 latency by concurrency", "ms (log)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(CONNECTIONS, [str(c) for c in CONNECTIONS])
        ax.set_xlabel("connections")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"billing_portal make bench — {results['machine']['cpus']} CPUs, {results['started_at'][:16]} UTC")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- main ------------------------------------------------------------------------------------------------------


def main() -> int:
    for tool in ("wrk", "pgbench", "psql"):
        if shutil.which(tool) is None:
            print(f"make bench needs `{tool}` on PATH (apt-get install wrk postgresql-client).", file=sys.stderr)
            return 2
    try:
        psql("SELECT 1")
    except subprocess.CalledProcessError as exc:
        print(f"PostgreSQL is not reachable at {PG_URL}: {exc.stderr.strip()}", file=sys.stderr)
        return 2
    started = time.monotonic()
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "postgres": psql("SHOW server_version")},
        "server": {"gunicorn_workers": WORKERS, "worker_class": WORKER_CLASS, "threads": THREADS,
                   "conn_max_age": 600, "debug": False, "rate_limiter": "on (Redis)", "celery": "broker (Redis)"},
        "seconds_per_point": SECONDS,
    }

    results["pgbench"] = pgbench_baselines()

    log(f"creating and migrating {BENCH_DB}")
    recreate_db(BENCH_DB)
    env = {**os.environ, **SERVER_ENV}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    os.environ.update(SERVER_ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_portal.settings")
    import django

    django.setup()
    from bench.seed import seed, write_load_files

    t0 = time.monotonic()
    data = seed(f"{PG_URL}/{BENCH_DB}")
    results["dataset"] = {**data["counts"], "seed_seconds": round(time.monotonic() - t0, 1)}
    log(f"seeded {data['counts']} in {results['dataset']['seed_seconds']} s")
    work = Path(tempfile.mkdtemp(prefix="bp_bench_"))
    files = write_load_files(data, work)

    run_tag = secrets.token_hex(4)
    server = Server(env, work / "gunicorn.log")
    log(f"gunicorn on {server.url}: {WORKERS} {WORKER_CLASS} workers x {THREADS} threads")
    points: dict[str, list[dict]] = {}
    usage_points: list[dict] = []
    seed_no = 0

    def point(name: str, script: str, conns: int, args: list[str], key: str | None = None,
              seconds: int = SECONDS) -> dict:
        nonlocal seed_no
        seed_no += 1
        tag = f"{run_tag}-{name}-{conns}"
        full_args = [a.replace("{tag}", tag) for a in args] + [str(seed_no)]
        commits = f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{BENCH_DB}'"
        commits0 = int(psql(commits))
        # A batch may wait long behind others; a client timeout would re-send it on a new connection.
        p = wrk(server, script, conns, full_args, seconds=seconds,
                timeout="120s" if script == "batch.lua" else "10s")
        p["tag"] = tag
        p["drain_s"] = server.drain()
        # Transactions committed (pg_stat_database, all statements of the point): write-combining shows as fewer
        # commits than events.
        p["commits"] = int(psql(commits)) - commits0
        if script == "usage.lua":
            p["events_per_s"] = round(p["statuses"].get("201", 0) / p["seconds"], 1)
            p["commits_per_request"] = round(p["commits"] / max(p["requests"], 1), 2)
            usage_points.append(p)
        elif script == "batch.lua":
            # Batches still queued when wrk stops are finished during the drain: count what was stored over
            # the whole time (window + drain), so a point whose batches outlast the window is not read as zero.
            stored = int(psql(f"SELECT count(*) FROM usage_usageevent WHERE idempotency_key LIKE '{tag}-%'",
                              BENCH_DB))
            p["events_stored"] = stored
            p["events_per_s_in_window"] = round(p["statuses"].get("200", 0) * 1000 / p["seconds"], 1)
            p["events_per_s"] = round(stored / (p["seconds"] + p["drain_s"]), 1)
            usage_points.append({**p, "retries_sent": 0,
                                 "statuses": {"201": p["statuses"].get("200", 0) * 1000},
                                 "connections": conns * 1000})
        points.setdefault(key or name, []).append(p)
        rate = f", {p['events_per_s']:,.0f} events/s" if "events_per_s" in p else ""
        log(f"{key or name:<16} c={conns:<3} {p['rps']:>8,.0f} req/s{rate}, p50 {p['p50_ms']} ms, "
            f"p99 {p['p99_ms']} ms, wrk cpu {p['generator_cpu_share']}, non-2xx {p['non_2xx']}")
        return p

    try:
        # Warm-up: every worker opens its persistent connection and loads the price table.
        wrk(server, "admission.lua", 16, [files["spread"], "0"], seconds=2)
        wrk(server, "usage.lua", 16, [files["spread"], f"{run_tag}-warmup", "0", "0"], seconds=2)
        server.drain()
        hot = {}
        for conns in CONNECTIONS:
            # Each ratio's two sides run back to back (select view then admission; spread then hot), so that
            # the load other processes put on the machine drifts as little as possible between them.
            point("select_view", "select.lua", conns, ["1000"])
            point("admission", "admission.lua", conns, [files["spread"]])
            if conns == HOT_CONNECTIONS:
                hot["admission_hot"] = point("admission_hot", "admission.lua", conns, [files["hot"]])
            point("usage_single", "usage.lua", conns, [files["spread"], "{tag}", str(RETRY_RATE)])
            if conns == HOT_CONNECTIONS:
                hot["usage_hot"] = point("usage_hot", "usage.lua", conns, [files["hot"], "{tag}", str(RETRY_RATE)])
        # Batches last: at 64 connections 64,000 events are in flight, and their backlog must not overlap
        # another point.
        for conns in CONNECTIONS:
            point("usage_batch", "batch.lua", conns, [files["batch_orgs"], "{tag}", "1000"])
    finally:
        server.stop()
        log("gunicorn stopped")
    results["wrk"] = points

    log("exactness check")
    results["exactness"] = exactness_check(usage_points)
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        results["followup_tasks_enqueued"] = client.llen("celery")
        client.delete("celery")  # the bench's own Redis database: no worker ran, drop the queued follow-ups
    except Exception as exc:
        results["followup_tasks_enqueued"] = f"unknown ({exc})"

    if os.environ.get("BENCH_SKIP_ADDONS") == "1":  # the hot path only (a quicker run)
        results["invoice_bench"] = results["dashboard_bench"] = {"present": True, "skipped": True}
        results["analytics_bench"] = {"present": True, "skipped": True}
    else:
        results["invoice_bench"] = optional_bench("invoice_bench")
        results["dashboard_bench"] = optional_bench("dashboard_bench")
        results["analytics_bench"] = optional_bench("analytics_bench")

    def at(name: str, conns: int) -> dict:
        return next(p for p in points[name] if p["connections"] == conns)

    pg = results["pgbench"]
    spread16 = at("usage_single", HOT_CONNECTIONS)
    summary = {
        "admission_vs_select_view": ratio(at("admission", 16)["rps"], at("select_view", 16)["rps"]),
        "admission_p50_vs_select_p50": ratio(at("admission", 16)["p50_ms"], at("select_view", 16)["p50_ms"]),
        "single_event_vs_select_view": ratio(spread16["events_per_s"], at("select_view", 16)["rps"]),
        "admission_p99_ms_16": at("admission", 16)["p99_ms"],
        "admission_rps_16": at("admission", 16)["rps"],
        "select_view_rps_16": at("select_view", 16)["rps"],
        "ingest_events_per_s_16": spread16["events_per_s"],
        "pgbench_n_tps_16": pg["N_16"]["tps"],
        "ingest_vs_pgbench_n": ratio(spread16["events_per_s"], pg["N_16"]["tps"]),
        "ingest_vs_pgbench_n_best": ratio(max(p["events_per_s"] for p in points["usage_single"]),
                                          max(pg[f"N_{c}"]["tps"] for c in CONNECTIONS)),
        "batch_events_per_s": max(p["events_per_s"] for p in points["usage_batch"]),
        "hot_vs_spread": ratio(hot["usage_hot"]["events_per_s"], spread16["events_per_s"]),
        "admission_hot_vs_spread": ratio(hot["admission_hot"]["rps"], at("admission", 16)["rps"]),
        "select_view_vs_pgbench_s": ratio(at("select_view", 16)["rps"], pg["S_16"]["tps"]),
        "exact": results["exactness"]["exact"],
        # Reports (bench/dashboard_bench.py): the 31-day usage CSV of the 10,000-member organization.
        "csv_export_rows_per_s": results["dashboard_bench"].get("csv_export", {}).get("rows_per_s"),
        "csv_export_peak_rss_mb": results["dashboard_bench"].get("csv_export", {}).get("peak_rss_growth_mb"),
        "analytics_cost_p95_ms": results["analytics_bench"].get("analytics_cost_p95_ms"),
        # Issue 25's ratio keys: each to a baseline measured in this run.
        "batch_events_vs_select_view": ratio(max(p["events_per_s"] for p in points["usage_batch"]),
                                             at("select_view", 16)["rps"]),
        "analytics_p95_vs_baseline": results["analytics_bench"].get("p95_vs_baseline"),
        "invoice_vs_scan": results["invoice_bench"].get("invoice_vs_scan"),
    }
    results["summary"] = summary
    results["targets"] = {
        # Issue 18's targets; `exact` must be true (the exit status says so).
        "admission_vs_select_view": (">=", 0.9), "admission_p50_vs_select_p50": ("<=", 1.2),
        "single_event_vs_select_view": (">=", 0.5), "batch_events_per_s": (">=", 30000),
        "hot_vs_spread": (">=", 0.8), "csv_export_peak_rss_mb": ("<=", 50), "analytics_cost_p95_ms": ("<=", 300),
        # Issue 25's targets, as ratios to baselines of the same run.
        "batch_events_vs_select_view": (">=", 20), "analytics_p95_vs_baseline": ("<=", 100),
        "invoice_vs_scan": ("<=", 10)
    }
    results["total_seconds"] = round(time.monotonic() - started, 1)
    out = {**summary, **{k: v for k, v in results.items() if k != "summary"}}
    previous = bench_compare.load_previous(RESULTS / "latest.json")  # the committed results, before this run's
    (RESULTS / "latest.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    plot(results, RESULTS / "latest.png")
    print_table(results)
    log(f"wrote {RESULTS / 'latest.json'} and latest.png in {results['total_seconds']} s")
    for line in bench_compare.report(previous, summary):
        print(line)
    if os.environ.get("BENCH_KEEP_DB") != "1":
        psql(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    shutil.rmtree(work, ignore_errors=True)
    return 0 if summary["exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
