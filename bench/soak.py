"""`make soak`: mixed traffic against gunicorn on loopback for SOAK_SECONDS (default 600), then a reconciliation.

1. A fresh database (SOAK_DB, default bp_soak), migrated and seeded: a Team, a seat-based Enterprise and a
   usage-based Enterprise organization, each with an owner and SOAK_MEMBERS members (default 40; a tenth of
   that on Team, so included usage runs out), an API key, prepaid balance and auto-reload on Team. Requests
   carry up to 300K input tokens (long-context prices included).
2. gunicorn (2 gthread workers x 4 threads) with production settings (bench/soak_settings.py: DEBUG off; only
   the cookies are allowed over plain HTTP on loopback). Follow-ups run in-process (no broker).
3. SOAK_CLIENTS (default 8) asyncio clients (httpx), closed loop, for SOAK_SECONDS or SOAK_MAX_REQUESTS:
   45% admissions, 40% usage (a tenth of them retries of an earlier key, which must replay the same answer),
   12% owner page views (Settings > Usage, the dashboard, Members, Invoices), 3% cap changes (the member-limit
   modal, CSRF and all). The rate is what the server sustains at that concurrency.
4. Reconciliation, to the last digit: per member and period, the counter equals the sum of its events; per
   organization and period, the counter slots and the daily rollups equal the events; the Team prepaid balance
   equals its ledger and the usage draws equal the extra cost of the events; the client's 201 answers sum to
   the stored cost; one audit row per accepted cap change; no 5xx. Results: bench/results/soak-latest.json.

Exit status 0 only if every check holds.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PY = sys.executable
PG_URL = os.environ.get("SOAK_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
DB = os.environ.get("SOAK_DB", "bp_soak")
SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "8"))
MEMBERS = int(os.environ.get("SOAK_MEMBERS", "40"))
MAX_REQUESTS = int(os.environ.get("SOAK_MAX_REQUESTS", "2000000"))
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/8")
MODELS = ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"]
PRODUCTS = ["chat", "claude_code", "cowork"]


def server_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.soak_settings",
        DATABASE_URL=f"{PG_URL}/{DB}",
        SECRET_KEY=os.environ.get("SOAK_SECRET_KEY", secrets.token_urlsafe(50)),
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SITE_URL="http://127.0.0.1",  # production refuses to start without one (apps/ops/checks.py)
        REDIS_URL=REDIS_URL,
        CONN_MAX_AGE="60",
        EMAIL_URL="consolemail://",
        LOG_LEVEL="ERROR",
        PYTHONPATH=str(ROOT),
    )
    return env


# --- Seeding and reconciliation run inside Django (child processes) -----------------------------------------


def seed(out: Path) -> None:
    import django

    django.setup()
    from django.utils import timezone

    from apps.extra_usage.services.auto_reload import auto_reload_configure
    from apps.extra_usage.services.prepaid import prepaid_purchase
    from apps.extra_usage.services.switches import extra_usage_enable
    from apps.organizations.models import PlanKind, Role
    from apps.organizations.services import api_key_create
    from apps.usage.models import CapScope
    from apps.usage.services import cap_set
    from tests.factories import OrganizationFactory, member

    now = timezone.now()
    orgs = []
    for plan, slug in ((PlanKind.TEAM, "soak-team"), (PlanKind.ENTERPRISE_SEAT, "soak-seat"),
                       (PlanKind.ENTERPRISE_USAGE, "soak-usage")):
        org = OrganizationFactory(plan_kind=plan, slug=slug, name=slug)
        owner = member(org, email=f"owner@{slug}.example", role=Role.PRIMARY_OWNER)
        # Fewer Team members, so their included usage runs out and the prepaid balance and auto-reload work.
        count = max(2, MEMBERS // 10) if plan == PlanKind.TEAM else MEMBERS
        members = [member(org, email=f"m{i}@{slug}.example") for i in range(count)]
        if plan == PlanKind.TEAM:
            prepaid_purchase(organization=org, amount=Decimal("500.00"), idempotency_key="soak-initial",
                             actor=owner.user, now=now)
            auto_reload_configure(organization=org, enabled=True, threshold=Decimal("100.00"),
                                  amount=Decimal("200.00"), monthly_limit=None, actor=owner.user, now=now)
        if plan != PlanKind.ENTERPRISE_USAGE:
            extra_usage_enable(organization=org, actor=owner.user, now=now)
        cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=Decimal("900000.00"), actor=owner.user)
        _, raw = api_key_create(organization=org, name="soak")
        orgs.append({"slug": slug, "key": raw, "owner": owner.user.email,
                     "members": [m.user.email for m in members], "member_ids": [m.pk for m in members]})
    out.write_text(json.dumps({"orgs": orgs}))


def reconcile(client_path: Path, out: Path) -> None:
    import django

    django.setup()
    from django.db.models import Count, F, Sum

    from apps.extra_usage.models import ExtraUsageSettings, LedgerKind, PrepaidLedgerEntry
    from apps.organizations.models import AuditEntry, Organization
    from apps.usage.models import MemberPeriodUsage, OrgUsageSlot, UsageDailyRollup, UsageEvent

    client = json.loads(client_path.read_text())
    checks: dict[str, bool] = {}
    figures: dict[str, str] = {}

    def zero(v):
        return v if v is not None else Decimal(0)

    per_member = {(r["membership_id"], r["period_start"]): r for r in UsageEvent.objects.values(
        "membership_id", "period_start").annotate(cost=Sum("cost"), included=Sum("included_cost"), n=Count("id"))}
    counters = {(c.membership_id, c.period_start): c for c in MemberPeriodUsage.objects.all()}
    mismatched = [k for k, r in per_member.items() if k not in counters or counters[k].spend != r["cost"]
                  or counters[k].included_spend != r["included"] or counters[k].event_count != r["n"]]
    extra_counters = [k for k, c in counters.items() if k not in per_member and (c.spend or c.event_count)]
    checks["member counters equal their events"] = not mismatched and not extra_counters

    for org in Organization.objects.filter(slug__startswith="soak-"):
        events = UsageEvent.objects.filter(organization=org).aggregate(
            c=Sum("cost"), i=Sum("included_cost"), n=Count("id"), t=Sum("input_tokens"))
        slots = OrgUsageSlot.objects.filter(organization=org).aggregate(c=Sum("spend"), i=Sum("included_spend"),
                                                                        n=Sum("event_count"))
        rollups = UsageDailyRollup.objects.filter(organization=org).aggregate(
            c=Sum("cost"), i=Sum("included_cost"), n=Sum("event_count"), t=Sum("input_tokens"))
        checks[f"{org.slug}: org counter slots equal the events"] = (
            zero(slots["c"]) == zero(events["c"]) and zero(slots["i"]) == zero(events["i"])
            and (slots["n"] or 0) == events["n"])
        checks[f"{org.slug}: daily rollups equal the events"] = (
            zero(rollups["c"]) == zero(events["c"]) and zero(rollups["i"]) == zero(events["i"])
            and (rollups["n"] or 0) == events["n"] and (rollups["t"] or 0) == (events["t"] or 0))
        reported = Decimal(client["created_cost"].get(org.slug, "0"))
        checks[f"{org.slug}: 201 answers sum to the stored cost"] = reported == zero(events["c"])
        checks[f"{org.slug}: every 201 stored, nothing else"] = client["created"].get(org.slug, 0) == events["n"]
        figures[f"{org.slug} events"] = str(events["n"])
        figures[f"{org.slug} cost"] = str(zero(events["c"]))
        settings_row = ExtraUsageSettings.objects.filter(organization=org).first()
        if settings_row is not None and org.plan_kind == "team":
            ledger = PrepaidLedgerEntry.objects.filter(organization=org)
            checks[f"{org.slug}: prepaid balance equals its ledger"] = (
                settings_row.prepaid_balance == zero(ledger.aggregate(s=Sum("amount"))["s"]))
            drawn = -zero(ledger.filter(kind=LedgerKind.USAGE).aggregate(s=Sum("amount"))["s"])
            extra = zero(UsageEvent.objects.filter(organization=org).aggregate(
                s=Sum(F("cost") - F("included_cost")))["s"])
            checks[f"{org.slug}: usage draws equal the extra cost"] = drawn == extra
            figures[f"{org.slug} prepaid balance"] = str(settings_row.prepaid_balance)
            figures[f"{org.slug} auto-reloads"] = str(ledger.filter(kind=LedgerKind.AUTO_RELOAD).count())
        cap_audits = AuditEntry.objects.filter(organization=org, action="cap.member").count()
        figures[f"{org.slug} member-cap audit rows"] = str(cap_audits)
        checks[f"{org.slug}: one audit row per accepted cap change"] = (
            cap_audits == client["cap_changes"].get(org.slug, 0))
    dup = UsageEvent.objects.values("organization_id", "idempotency_key").annotate(n=Count("id")).filter(n__gt=1)
    checks["no idempotency key stored twice"] = not dup.exists()
    out.write_text(json.dumps({"checks": checks, "figures": figures}))


# --- The load ---------------------------------------------------------------------------------------------------


class Stats:
    def __init__(self):
        self.status: Counter = Counter()
        self.by_kind: Counter = Counter()
        self.latency: dict[str, list[float]] = {}
        self.created: Counter = Counter()
        self.created_cost: dict[str, Decimal] = {}
        self.cap_changes: Counter = Counter()
        self.replay_mismatch = 0
        self.errors: list[str] = []

    def record(self, kind: str, status: int, seconds: float, body: str = "") -> None:
        self.status[status] += 1
        self.by_kind[kind] += 1
        self.latency.setdefault(kind, []).append(seconds)
        if status >= 500 and len(self.errors) < 20:
            self.errors.append(f"{kind} {status} {body[:200]}")


async def owner_session(http, base: str, email: str) -> dict:
    """Log the owner in; returns the headers (Cookie, X-CSRFToken) the loop sends. Cookies are sent by hand:
    the production settings mark them Secure, which a cookie jar would not send over loopback HTTP."""
    page = await http.get(f"{base}/accounts/login/")
    csrf = page.cookies.get("csrftoken")
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert found, (page.status_code, page.text[:500])
    token = found.group(1)
    response = await http.post(f"{base}/accounts/login/", data={"username": email, "password": "demo-password",
                                                               "csrfmiddlewaretoken": token},
                               headers={"Cookie": f"csrftoken={csrf}"}, follow_redirects=False)
    session = response.cookies.get("sessionid")
    assert response.status_code == 302 and session, (response.status_code, response.text[:300])
    cookie = f"csrftoken={csrf}; sessionid={session}"
    return {"Cookie": cookie, "X-CSRFToken": csrf}


async def virtual_user(n: int, base: str, world: dict, sessions: dict, stats: Stats, stop_at: float,
                       budget: list[int]) -> None:
    import httpx

    rng = random.Random(n)
    sent: list[tuple[str, dict, dict]] = []
    pages = world["pages"]
    async with httpx.AsyncClient(timeout=30) as http:
        while time.monotonic() < stop_at and budget[0] > 0:
            budget[0] -= 1
            org = rng.choice(world["orgs"])
            auth = {"Authorization": f"Bearer {org['key']}"}
            roll = rng.random()
            started = time.monotonic()
            try:
                if roll < 0.45:
                    kind = "admission"
                    r = await http.post(f"{base}/api/v1/admission", headers=auth, json={
                        "member": rng.choice(org["members"]), "product": rng.choice(PRODUCTS),
                        "model": rng.choice(MODELS)})
                elif roll < 0.85:
                    if sent and rng.random() < 0.10:
                        kind = "usage retry"
                        slug, body, first = rng.choice(sent)
                        r = await http.post(f"{base}/api/v1/usage", headers=auth if slug == org["slug"] else {
                            "Authorization": f"Bearer {next(o['key'] for o in world['orgs'] if o['slug'] == slug)}"},
                            json=body)
                        if r.status_code != 200 or r.json() != first:
                            stats.replay_mismatch += 1
                    else:
                        kind = "usage"
                        body = {"idempotency_key": f"soak-{n}-{budget[0]}-{rng.getrandbits(32)}",
                                "member": rng.choice(org["members"]), "product": rng.choice(PRODUCTS),
                                "model": rng.choice(MODELS),
                                "usage": {"input_tokens": rng.randint(1, 300_000),
                                          "output_tokens": rng.randint(1, 20_000),
                                          "cache_read_input_tokens": rng.choice([0, 0, rng.randint(1, 20_000)])}}
                        r = await http.post(f"{base}/api/v1/usage", headers=auth, json=body)
                        if r.status_code == 201:
                            answer = r.json()
                            stats.created[org["slug"]] += 1
                            stats.created_cost[org["slug"]] = (stats.created_cost.get(org["slug"], Decimal(0))
                                                               + Decimal(answer["cost"]))
                            if len(sent) < 500:
                                sent.append((org["slug"], body, answer))
                elif roll < 0.97:
                    kind = "page"
                    path = rng.choice(pages[org["slug"]])
                    r = await http.get(f"{base}{path}", headers=sessions[org["slug"]], follow_redirects=False)
                else:
                    kind = "cap change"
                    index = rng.randrange(len(org["member_ids"]))
                    path = f"/orgs/{org['slug']}/settings/usage/limits/{org['member_ids'][index]}/edit/"
                    amount = f"{rng.randint(2_000, 9_000)}.{rng.randint(0, 99):02d}"
                    r = await http.post(f"{base}{path}", data={"amount": amount, "action": "set"},
                                        headers={**sessions[org["slug"]], "HX-Request": "true",
                                                 "Referer": f"{base}{path}"}, follow_redirects=False)
                    if r.status_code < 400 and "Enter" not in r.text:
                        stats.cap_changes[org["slug"]] += 1
            except httpx.HTTPError as exc:
                stats.record("transport", 599, time.monotonic() - started, repr(exc))
                continue
            stats.record(kind, r.status_code, time.monotonic() - started, r.text if r.status_code >= 500 else "")


async def drive(base: str, world: dict) -> Stats:
    import httpx

    stats = Stats()
    sessions = {}
    for org in world["orgs"]:
        async with httpx.AsyncClient(timeout=30) as http:  # one cookie jar per owner
            sessions[org["slug"]] = await owner_session(http, base, org["owner"])
    stop_at = time.monotonic() + SECONDS
    budget = [MAX_REQUESTS]
    await asyncio.gather(*(virtual_user(n, base, world, sessions, stats, stop_at, budget) for n in range(CLIENTS)))
    return stats


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 (loopback)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"server did not start: {url}")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> int:
    env = server_env()
    admin = f"{PG_URL}/postgres"
    subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"], check=True,
                   capture_output=True)
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {DB}"], check=True, capture_output=True)
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    # Production settings serve hashed static names from the manifest collectstatic writes (pages link CSS).
    subprocess.run([PY, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    work = Path(os.environ.get("SOAK_WORK_DIR", "/tmp")) / f"soak-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run([PY, __file__, "--seed", str(work / "world.json")], cwd=ROOT, env=env, check=True)
    world = json.loads((work / "world.json").read_text())
    world["pages"] = {o["slug"]: [f"/orgs/{o['slug']}/settings/usage/", f"/orgs/{o['slug']}/usage/dashboard/",
                                  f"/orgs/{o['slug']}/members/", f"/orgs/{o['slug']}/invoices/"]
                      for o in world["orgs"]}

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(work / "gunicorn.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [str(Path(PY).parent / "gunicorn"), "billing_portal.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2",
         "-k", "gthread", "--threads", "4", "--timeout", "60", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(f"{base}/accounts/login/")
        print(f"soak: {SECONDS}s, {CLIENTS} clients, {len(world['orgs'])} organizations x {MEMBERS} members, "
              f"gunicorn 2x4 on {base}", flush=True)
        started = time.monotonic()
        stats = asyncio.run(drive(base, world))
        elapsed = time.monotonic() - started
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        log.close()

    client = {"created": dict(stats.created), "created_cost": {k: str(v) for k, v in stats.created_cost.items()},
              "cap_changes": dict(stats.cap_changes)}
    (work / "client.json").write_text(json.dumps(client))
    subprocess.run([PY, __file__, "--reconcile", str(work / "client.json"), str(work / "reconcile.json")],
                   cwd=ROOT, env=env, check=True)
    result = json.loads((work / "reconcile.json").read_text())
    total = sum(stats.status.values())
    five_xx = sum(n for s, n in stats.status.items() if s >= 500)
    result["checks"]["no request answered 5xx (or failed in transport)"] = five_xx == 0
    result["checks"]["every retry replayed the first answer"] = stats.replay_mismatch == 0
    summary = {
        "seconds": round(elapsed, 1), "clients": CLIENTS, "requests": total,
        "requests_per_second": round(total / elapsed, 1),
        "by_kind": dict(stats.by_kind), "status": {str(k): v for k, v in sorted(stats.status.items())},
        "latency_ms": {k: {"p50": round(percentile(v, 0.5) * 1000, 1), "p99": round(percentile(v, 0.99) * 1000, 1)}
                       for k, v in stats.latency.items()},
        "figures": result["figures"], "checks": result["checks"], "server_errors": stats.errors,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak-latest.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    if os.environ.get("SOAK_KEEP_DB") != "1":
        subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"], capture_output=True)
    ok = all(result["checks"].values())
    print("soak: " + ("all checks hold" if ok else "FAILED: " + ", ".join(
        k for k, v in result["checks"].items() if not v)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if len(sys.argv) > 1 and sys.argv[1] == "--seed":
        seed(Path(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--reconcile":
        reconcile(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit(main())
