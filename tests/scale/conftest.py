"""Second PostgreSQL processes for the scale tests: a PgBouncer in transaction-pooling mode in front of the test
server, and a streaming replica of it made by pg_basebackup. Both run as the postgres OS user (neither runs as
root) from a temporary directory, on free ports, and are stopped when their fixture ends."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command as the postgres OS user when we are root (PostgreSQL and PgBouncer refuse to run as root)."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=120, **kwargs)


def postgres_bin(name: str) -> str:
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    assert versions, f"{name} not found under /usr/lib/postgresql/*/bin (install postgresql)"
    return str(versions[-1])


@contextmanager
def workdir(prefix: str):
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def primary() -> dict:
    db = settings.DATABASES["default"]
    return {"host": db["HOST"] or "127.0.0.1", "port": int(db["PORT"] or 5432), "user": db["USER"] or "postgres"}


@contextmanager
def pgbouncer_transaction_mode():
    """A PgBouncer (Debian's, `make pgbouncer`) pooling every database of the test server in transaction mode;
    yields its port."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    assert Path(binary).exists(), "pgbouncer is not installed: run `make pgbouncer`"
    server, port = primary(), free_port()
    with workdir("bp-pgbouncer-") as path:
        (path / "userlist.txt").write_text(f'"{server["user"]}" ""\n')
        (path / "pgbouncer.ini").write_text(
            f"[databases]\n* = host={server['host']} port={server['port']}\n"
            f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {path}/userlist.txt\npool_mode = transaction\n"
            f"max_client_conn = 500\ndefault_pool_size = 40\nadmin_users = {server['user']}\n"
            f"logfile = {path}/pgbouncer.log\npidfile = {path}/pgbouncer.pid\n"
        )
        for item in path.iterdir():
            if os.geteuid() == 0:
                shutil.chown(item, "postgres", "postgres")
        as_postgres([binary, "-d", str(path / "pgbouncer.ini")])
        try:
            yield port
        finally:
            pid = (path / "pgbouncer.pid").read_text().strip() if (path / "pgbouncer.pid").exists() else None
            if pid:
                os.kill(int(pid), 15)  # the PgBouncer this fixture started, by its pid
