"""`make demo` runs on the embedded SQLite database, which the rest of the suite (on PostgreSQL) never touches:
this seeds the demo into a fresh SQLite file and visits every page owners, admins and members can reach."""

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("crawl_sqlite_demo.py")


def test_the_seeded_demo_serves_every_reachable_page_on_sqlite_without_a_server_error(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}"}
    proc = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["failures"] == [], report["failures"]
    assert report["visited"] > 100  # owners reach settings, members, dashboards, invoices, extra usage
