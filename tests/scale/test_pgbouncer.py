"""The machine API through a real PgBouncer in transaction-pooling mode, with server-side prepared statements
switched off (DATABASE_PREPARED_STATEMENTS=false): the whole machine API suite (tests/machine_api) runs once through
it, in a separate pytest process on its own test database."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
from django.conf import settings

from .conftest import pgbouncer_transaction_mode, primary

ROOT = Path(__file__).resolve().parents[2]


def _xacts_through(port: int, database: str) -> int:
    with psycopg.connect(host="127.0.0.1", port=port, user=primary()["user"], dbname="pgbouncer",
                         autocommit=True, prepare_threshold=None) as admin:
        rows = admin.execute("SHOW STATS").fetchall()
    return sum(row[1] for row in rows if row[0] == database)


def test_the_machine_api_suite_passes_through_pgbouncer_in_transaction_mode_without_prepared_statements():
    name = f"{settings.DATABASES['default']['NAME']}_pgbouncer"  # pytest-django makes test_<name> of it
    server = primary()
    with pgbouncer_transaction_mode() as port:
        env = {**os.environ, "DATABASE_URL": f"postgres://{server['user']}@127.0.0.1:{port}/{name}",
               "DATABASE_PREPARED_STATEMENTS": "false"}
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "--reuse-db",
             "--create-db", "tests/machine_api"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200,
        )
        through = _xacts_through(port, f"test_{name}")
    try:
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        assert " passed" in run.stdout and " failed" not in run.stdout
        assert through > 100  # the suite's transactions really went through the pooler
    finally:
        with psycopg.connect(host=server["host"], port=server["port"], user=server["user"], dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "test_{name}" WITH (FORCE)')
