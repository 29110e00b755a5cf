import contextlib
import importlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.core import mail
from django.test import Client

from apps.extra_usage.payments import FailingTestProvider
from apps.usage.pricing import price_table


def _is_transactional(request) -> bool:
    """A test whose database changes are committed (and flushed after it): django_db(transaction=True), or one
    asking for transactional_db or live_server."""
    if {"transactional_db", "live_server"} & set(request.fixturenames):
        return True
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return False
    return bool(marker.kwargs.get("transaction", marker.args[0] if marker.args else False))


@pytest.fixture(autouse=True)
def _own_throttle_counts(settings):
    """Each test counts logins, resets, SCIM calls and OIDC callbacks (apps/common/ratelimit.py ClientThrottle)
    in its own Redis namespace, so one test's requests never throttle another's."""
    settings.THROTTLE_NAMESPACE = f"test-throttle:{uuid.uuid4().hex}"


@pytest.fixture(autouse=True)
def _fresh_price_table(request):
    """Each test sees the price table as its own database holds it.

    A transactional test (django_db(transaction=True)) empties every table when it ends, including the price
    table the data migration seeded, so later transactional tests would find no model at all: the seed is
    re-applied (idempotently) before each of them."""
    if _is_transactional(request):
        request.getfixturevalue("transactional_db")
        importlib.import_module("apps.usage.migrations.0002_seed_price_table").seed(django_apps, None)
    price_table.invalidate()
    yield
    price_table.invalidate()


def celery_use_broker(url: str | None, *, eager: bool) -> None:
    """Point this process's Celery app at another broker (or back to eager), dropping every cached connection
    and producer pool: Celery's own, and kombu's process-wide registry, which would otherwise hand a later test
    a pool closed by this switch ("Acquire on closed pool") or one still talking to the previous broker."""
    from kombu import pools

    from billing_portal.celery import app

    app.conf.task_always_eager = eager
    app.conf.broker_url = url
    pools.reset()
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@pytest.fixture
def provider(settings):
    """Payments through FailingTestProvider (succeeds unless told to fail), counting its calls."""
    settings.PAYMENT_PROVIDER = "apps.extra_usage.payments.FailingTestProvider"
    FailingTestProvider.reset()
    yield FailingTestProvider
    FailingTestProvider.reset()


@pytest.fixture
def outbox():
    mail.outbox = []
    return mail.outbox


class ApiClient:
    """Calls the machine API with a bearer key, sending and reading JSON."""

    def __init__(self, key: str):
        self.client = Client()
        self.key = key

    def post(self, path: str, body, **headers):
        import json

        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.client.post(
            f"/api/v1{path}", data=data, content_type=headers.pop("content_type", "application/json"),
            HTTP_AUTHORIZATION=f"Bearer {self.key}", **headers,
        )


# --- Browser tests -------------------------------------------------------------------------------------------
# Playwright drives the OS Chromium (/usr/bin/chromium); no browser is downloaded. Screenshots go to
# test-output/screenshots/ for reviewers.

SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Playwright's sync API runs an event loop in the test thread; Django's ORM calls there are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield instance
        instance.close()


AXE_SCRIPT = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
# What axe checks on every page the browser tests open: WCAG 2.1 A and AA. A serious or critical violation fails
# the test that opened the page.
AXE_RUN = """() => {
  // One run at a time per window (a second page load can fire while the first page's run is still going).
  const run = () => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
  window.__axeRuns = (window.__axeRuns || Promise.resolve()).catch(() => null).then(run);
  return window.__axeRuns.then(r => r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})));
}"""


def axe_violations(page) -> list[dict]:
    """The serious and critical accessibility violations axe-core finds on the page as it is now. axe is
    evaluated through the DevTools protocol, so the pages' strict Content-Security-Policy stays in force."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8") + "\n;undefined")
    return page.evaluate(AXE_RUN)


@pytest.fixture
def page(browser, live_server):
    """A Chromium tab on the live server. Every page of the portal it loads is checked with axe-core; the test
    fails on any serious or critical violation (listed with the page's path)."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    findings: list[tuple[str, dict]] = []

    def check(loaded) -> None:
        if not loaded.url.startswith(live_server.url):  # another site's page (the test identity provider's)
            return
        try:
            findings.extend((loaded.url, violation) for violation in axe_violations(loaded))
        except Exception as error:  # the page navigated away while axe ran: the next page is checked
            if "context was destroyed" not in str(error) and "navigat" not in str(error):
                raise

    tab.on("load", check)
    yield tab
    context.close()
    distinct = sorted({f"{url}: {v['impact']} {v['id']}: {v['help']} at {v['nodes']}" for url, v in findings})
    assert not distinct, "accessibility violations (axe-core):\n" + "\n".join(distinct)


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under test-output/screenshots/<name>.png and return its path."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page, email: str, password: str = "demo-password") -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def run_concurrently(count: int, target, *, timeout: float = 300.0) -> None:
    """Call `target(index)` from `count` threads released together (a barrier), each on its own database
    connection, and fail with whatever any of them raised."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(count)
    errors = []

    def work(index):
        try:
            barrier.wait()
            target(index)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    assert errors == [], errors


def wait_for(predicate, *, timeout: float, interval: float = 0.2) -> bool:
    """Poll `predicate` until it is true (True) or `timeout` seconds have passed (False)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


@contextlib.contextmanager
def celery_worker_running(tmp_path: Path, broker: str, *, hostname: str, args: tuple = (), env: dict | None = None,
                          log_stdout: bool = False):
    """A `celery -A billing_portal worker --pool=solo` subprocess on the test database and `broker` (flushed
    first), with this process enqueuing to it; yields its log file (stderr, and stdout too with `log_stdout`).
    On exit the worker is stopped (terminated, killed after 20 s) and this process's broker restored."""
    import redis
    from django.db import connection

    from billing_portal.celery import app

    redis.Redis.from_url(broker).flushdb()
    path = tmp_path / "worker.log"
    log = open(path, "w")  # noqa: SIM115 (closed after the worker stops)
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "billing_portal", "worker", "--pool=solo", "--loglevel=INFO", *args,
         f"--hostname={hostname}-{uuid.uuid4().hex[:8]}@%h"],
        cwd=ROOT, env=worker_env(tmp_path, broker, **(env or {})),
        stdout=log if log_stdout else subprocess.DEVNULL, stderr=subprocess.STDOUT if log_stdout else log,
    )
    eager, broker_url = app.conf.task_always_eager, app.conf.broker_url
    celery_use_broker(broker, eager=False)
    try:
        yield path
    finally:
        celery_use_broker(broker_url, eager=eager)
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()
        connection.close()


def worker_env(tmp_path: Path, broker: str, **extra) -> dict:
    """The environment of a Celery worker subprocess on the test database and `broker`, mailing to files."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "billing_portal.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        "SECRET_KEY": "worker-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SITE_URL": "http://127.0.0.1:8000",  # production workers refuse to start without one (apps/ops/checks.py)
        "EMAIL_URL": f"filemail:///{tmp_path / 'mail'}",  # four slashes: an absolute path
        **extra,
    }


# The Redis database the killed-worker tests enqueue to (a worker subprocess consumes it).
PAUSING_BROKER = os.environ.get("HARDENING_TEST_BROKER_URL", "redis://127.0.0.1:6379/8")
ROOT = Path(__file__).resolve().parent.parent


def start_pausing_worker(tmp_path: Path, name: str, **extra) -> subprocess.Popen:
    """A Celery worker subprocess (tests/hardening/worker_with_pause.py) on PAUSING_BROKER that pauses inside
    the functions named by HARDENING_PAUSE_AT, so a test can kill it there; its output goes to <name>.log."""
    env = worker_env(tmp_path, PAUSING_BROKER, HARDENING_PAUSE_DIR=str(tmp_path), PYTHONUNBUFFERED="1", **extra)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen([sys.executable, "tests/hardening/worker_with_pause.py"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture
def pausing_broker():
    """This process enqueues to PAUSING_BROKER instead of running tasks eagerly (emptied before and after)."""
    import redis
    from django.db import connection

    from billing_portal.celery import app

    redis.Redis.from_url(PAUSING_BROKER).flushdb()
    eager, url = app.conf.task_always_eager, app.conf.broker_url
    celery_use_broker(PAUSING_BROKER, eager=False)
    yield
    celery_use_broker(url, eager=eager)
    redis.Redis.from_url(PAUSING_BROKER).flushdb()
    connection.close()


# --- Verified domains (issue 26): a real DNS server on loopback --------------------------------------------------
@pytest.fixture
def dns_zone(settings):
    """A dnslib DNS server on 127.0.0.1 that IDENTITY_DNS_NAMESERVERS points at (tests/dns_server.py);
    `dns_zone.publish(name, value)` adds a TXT record."""
    from tests.dns_server import dns_server

    with dns_server() as zone:
        settings.IDENTITY_DNS_NAMESERVERS = [zone.address]
        yield zone
