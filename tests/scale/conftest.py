"""Second PostgreSQL processes for the scale tests: a PgBouncer in transaction-pooling mode in front of the test
server, and a streaming replica of it made by pg_basebackup. Both run as the postgres OS user (neither runs as
root) from a temporary directory, on free ports, and are stopped when their fixture ends."""

from __future__ import annotations

import copy
import os
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections


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


def _allow_replication(cursor) -> None:
    """The test server must accept replication connections from 127.0.0.1 (pg_basebackup, the standby). A fresh
    Debian server has wal_level=replica and max_wal_senders=10 but no `replication` line in pg_hba.conf: add one
    (trust, loopback only, as for its other local connections) and reload."""
    cursor.execute("SHOW wal_level")
    assert cursor.fetchone()[0] in ("replica", "logical"), "the test server needs wal_level=replica (restart)"
    cursor.execute("SELECT count(*) FROM pg_hba_file_rules WHERE 'replication' = ANY(database) "
                   "AND type = 'host' AND address = '127.0.0.1'")
    if cursor.fetchone()[0]:
        return
    cursor.execute("SHOW hba_file")
    hba = Path(cursor.fetchone()[0])
    assert os.access(hba, os.W_OK), f"allow replication from 127.0.0.1 in {hba} (host replication all 127.0.0.1/32)"
    with hba.open("a") as file:
        file.write("\n# Added by billing_portal's tests (tests/scale): streaming replica on this machine.\n"
                   "host replication all 127.0.0.1/32 trust\n")
    cursor.execute("SELECT pg_reload_conf()")


# Hot-standby settings that must be at least the primary's, or the standby refuses to start.
_STANDBY_AT_LEAST = ("max_connections", "max_worker_processes", "max_wal_senders", "max_prepared_transactions",
                     "max_locks_per_transaction")


@pytest.fixture(scope="session")
def streaming_replica(django_db_setup, django_db_blocker):
    """A second PostgreSQL cluster on a free port, streaming from the test server (pg_basebackup -R after the
    test database is created), added to Django as the "replica" alias (a test mirror, so tests never flush it).
    Stopped, and its data directory removed, at the end of the session."""
    server, port = primary(), free_port()
    with django_db_blocker.unblock(), connections["default"].cursor() as cursor:
        _allow_replication(cursor)
        values = {}
        for name in _STANDBY_AT_LEAST:
            cursor.execute(f"SHOW {name}")
            values[name] = cursor.fetchone()[0]
    pg_ctl = postgres_bin("pg_ctl")
    with workdir("bp-replica-") as path:
        data = path / "data"
        as_postgres([postgres_bin("pg_basebackup"), "-h", server["host"], "-p", str(server["port"]), "-U",
                     server["user"], "-D", str(data), "-R", "-X", "stream", "-c", "fast"])
        settings_lines = [f"port = {port}", "listen_addresses = '127.0.0.1'", f"unix_socket_directories = '{path}'",
                          "hot_standby = on", *(f"{name} = {value}" for name, value in values.items())]
        conf, hba = data / "postgresql.conf", data / "pg_hba.conf"
        conf.write_text("\n".join(settings_lines) + "\n")
        hba.write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
        if os.geteuid() == 0:
            for item in (conf, hba):
                shutil.chown(item, "postgres", "postgres")
        as_postgres([pg_ctl, "-D", str(data), "-l", str(path / "replica.log"), "-w", "-t", "60", "start"])
        alias = "replica"
        try:
            replica = {**copy.deepcopy(connections["default"].settings_dict), "HOST": "127.0.0.1", "PORT": port}
            replica["TEST"] = {**replica.get("TEST", {}), "MIRROR": "default"}
            connections.settings[alias] = settings.DATABASES[alias] = replica
            yield alias
        finally:
            if alias in connections.settings:
                connections[alias].close()
                del connections[alias]
                del connections.settings[alias]
                settings.DATABASES.pop(alias, None)
            as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"])
