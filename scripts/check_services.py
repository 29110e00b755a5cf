"""Before the test suite: one clear line if PostgreSQL or Redis is not reachable, instead of a wall of errors."""

import os
import socket
import sys
from urllib.parse import urlparse


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def main() -> int:
    db = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/billing_portal"))
    redis = urlparse(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    if not reachable(db.hostname or "127.0.0.1", db.port or 5432):
        print(f"PostgreSQL is not reachable at {db.hostname}:{db.port or 5432}; start it with: "
              "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", file=sys.stderr)
        return 1
    if not reachable(redis.hostname or "127.0.0.1", redis.port or 6379):
        print(f"Redis is not reachable at {redis.hostname}:{redis.port or 6379}; start it with: "
              'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
