"""The two commands a new machine runs: `make test` says first which PostgreSQL it uses (the local one when it
answers, else an embedded one), and `make demo` (scripts/demo.py) starts an embedded PostgreSQL, serves the
portal and stops everything it started on SIGTERM."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from embedded_pg import EmbeddedPostgres  # noqa: E402
from run_tests import choose_database  # noqa: E402

from tests.conftest import wait_for  # noqa: E402


@pytest.fixture
def server_dir():
    """A folder for an embedded server outside pytest's tmp root: the server runs as another user, so the
    folder's parents are opened to it, and every pytest session (others run at once) closes that root again."""
    folder = Path(tempfile.mkdtemp(prefix="bp-embedded-pg-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_make_test_uses_database_url_when_it_names_a_postgresql():
    url, line = choose_database({"DATABASE_URL": "postgres://postgres@db.internal:6543/app"})
    assert url == "postgres://postgres@db.internal:6543/app"
    assert line == "Tests on PostgreSQL at db.internal:6543 (from DATABASE_URL)."


def test_make_test_uses_the_local_postgresql_when_it_answers():
    url, line = choose_database({}, local=("127.0.0.1", 5432))
    assert url == "postgres://postgres@127.0.0.1:5432/billing_portal"
    assert line == "Tests on the PostgreSQL at 127.0.0.1:5432."


def test_make_test_falls_back_to_an_embedded_postgresql_that_really_starts(server_dir):
    port = closed_port()
    url, line = choose_database({"DATABASE_URL": "sqlite:///old.sqlite3"}, local=("127.0.0.1", port))
    assert url is None
    assert line.startswith(f"Tests on an embedded PostgreSQL (none answered at 127.0.0.1:{port})")
    server = EmbeddedPostgres(server_dir / "pgdata")
    url = server.start("billing_portal")
    try:
        with psycopg.connect(url) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        assert version.startswith("18.")
    finally:
        server.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)


def test_make_test_prints_which_database_on_its_first_line():
    env = {**os.environ, "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/bp_first_line"}
    result = subprocess.run([sys.executable, "scripts/run_tests.py", "--collect-only", "-q",
                             "tests/demo/test_runners.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stdout.splitlines()[0] == "Tests on PostgreSQL at 127.0.0.1:5432 (from DATABASE_URL)."


def test_make_demo_serves_on_an_embedded_postgresql_and_stops_everything_on_sigterm(server_dir):
    port, demo_dir = closed_port(), server_dir / "demo"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(DEMO_DIR=str(demo_dir), DEMO_PORT=str(port), REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    proc = subprocess.Popen([sys.executable, "scripts/demo.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 240
        while not any(line.startswith("Serving") for line in lines):
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.5)
        site = f"http://127.0.0.1:{port}"
        assert lines[0].startswith(f"Billing portal demo: {site}/")  # the address and the logins come first
        assert lines[1].strip().startswith(f"Django admin: {site}/admin/")
        assert "embedded PostgreSQL" in "".join(lines) and "filesystem transport" in "".join(lines)
        keys = next(i for i, line in enumerate(lines) if line.startswith("API keys:"))
        assert "bp_live_" in lines[keys + 1]
        with urllib.request.urlopen(f"{site}/accounts/login/", timeout=10) as response:
            html = response.read().decode()
        assert response.status == 200
        css = html.split('href="/static/css/app.')[1].split('"')[0]
        with urllib.request.urlopen(f"{site}/static/css/app.{css}", timeout=10) as response:
            assert response.status == 200  # WhiteNoise serves the hashed copy
            assert "immutable" in response.headers["Cache-Control"]
        # The health and metrics addresses are printed; readiness checks the database, broker and migrations
        # (this test's REDIS_URL names a closed port, so Redis is the one check that fails), and /metrics
        # answers in the Prometheus format with the counters of every gunicorn worker (multiprocess mode).
        assert wait_for(lambda: any(line.startswith("Health:") for line in lines), timeout=30), "".join(lines)
        health = next(line for line in lines if line.startswith("Health:"))
        assert f"{site}/health/ready" in health and f"{site}/metrics" in health
        try:
            urllib.request.urlopen(f"{site}/health/ready", timeout=20)
        except urllib.error.HTTPError as exc:
            ready = json.load(exc)
        for name in ("database", "migrations", "celery_broker", "storage"):
            assert ready["checks"][name]["state"] == "ok", ready
        assert ready["checks"]["redis"]["state"] == "unavailable"
        with urllib.request.urlopen(f"{site}/metrics", timeout=20) as response:
            families = {f.name for f in text_string_to_metric_families(response.read().decode())}
        assert {"django_http_requests_total_by_method", "bp_email_outbox", "bp_invoices"} <= families
        server_pids = [p.pid for p in psutil.process_iter(["cmdline"]) if str(demo_dir) in " ".join(
            p.info["cmdline"] or [])]
        assert server_pids  # the embedded PostgreSQL runs from the demo's data folder
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        reader.join(timeout=5)
    assert code == 0, "".join(lines)
    assert lines[-1].strip() == "Demo stopped."
    # pg_ctl stop returns once the server removed its pid file; the postmaster exits a moment later.
    assert wait_for(lambda: not [p for p in psutil.process_iter(["cmdline"])
                                   if str(demo_dir) in " ".join(p.info["cmdline"] or [])], timeout=15)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2)
