"""Plumbing shared by the benchmarks that seed a database of their own and run in a child process
(bench/invoice_bench.py, bench/dashboard_bench.py, bench/analytics_bench.py): the server, the child-process
runner, the admin connection, bulk users, sequences, dropping the database at the end, and printing the figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")


def run_child(script: str, name: str) -> dict:
    """Run a benchmark script in a child process (it sets Django up on its own database) and return the figures
    it prints as JSON on its last line."""
    proc = subprocess.run([sys.executable, str(Path(script).resolve()), "--json"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def admin_sql(sql: str) -> None:
    """Run one statement on the server's maintenance database (CREATE / DROP DATABASE)."""
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def has_rows(db_name: str, table: str, *, organization_id: int = 1) -> bool:
    """Whether a kept benchmark database (BENCH_KEEP_DB=1 on an earlier run) holds the organization's rows in
    `table`, so BENCH_REUSE_DB=1 can skip the seeding."""
    import psycopg

    try:
        with psycopg.connect(f"{PG_URL}/{db_name}", autocommit=True) as conn:
            return bool(conn.execute(f"SELECT count(*) FROM {table} WHERE organization_id = %s",
                                     [organization_id]).fetchone()[0])
    except psycopg.Error:
        return False


def users_insert(cur, *, first_id: int, last_id: int, domain: str, public_prefix: str, named: bool = True) -> None:
    """Users first_id..last_id in one statement: m<id>@<domain>, "Member <id>" (or no name), unusable passwords."""
    name = "'Member ' || g" if named else "''"
    cur.execute(
        "INSERT INTO accounts_user (id, password, is_superuser, email, name, public_id, is_active, is_staff, "
        f"date_joined) SELECT g, '!', false, 'm' || g || %s, {name}, %s || g, true, false, '2026-01-01' "
        "FROM generate_series(%s, %s) g", [f"@{domain}", public_prefix, first_id, last_id])


def sequences_past_rows(cur, tables: tuple[str, ...]) -> None:
    """After inserting explicit ids: move each table's id sequence to its largest id, so the ORM's inserts go on."""
    for table in tables:
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


def django_on_own_database(db_name: str, *, fresh: bool = True, **env: str) -> None:
    """Point Django's production settings (DEBUG off) at a benchmark database of its own, created afresh unless
    `fresh` is false, then set Django up and migrate. `env` adds or overrides settings' environment variables.
    Pair it with close_and_drop(db_name) in a `finally`."""
    os.environ.update({
        "DATABASE_URL": f"{PG_URL}/{db_name}",
        "SECURE_SSL_REDIRECT": "false",
        "DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "billing_portal.settings",
        **env,
    })
    os.environ.setdefault("SECRET_KEY", f"{db_name}-only-0123456789abcdefghijklmnopqrstuvwxyz")
    if fresh:
        admin_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        admin_sql(f'CREATE DATABASE "{db_name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    # Production settings serve hashed static file names from a manifest, which collectstatic writes (as the
    # demo and a deployment do); without it every page that links a stylesheet fails.
    call_command("collectstatic", verbosity=0, interactive=False)


def close_and_drop(db_name: str) -> None:
    """Close Django's connections and drop the benchmark database, unless BENCH_KEEP_DB=1 keeps it."""
    try:
        from django.db import connections

        connections.close_all()
    except Exception:  # noqa: BLE001 - Django may not have been set up
        pass
    if os.environ.get("BENCH_KEEP_DB") != "1":
        admin_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def print_figures(figures: dict) -> int:
    """`--json`: one line of JSON (what run_child reads); otherwise one figure a line."""
    if "--json" in sys.argv:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:28} {value}")
    return 0
