"""/health/live and /health/ready answer a load balancer: JSON, each check's state and time, 503 on a failure."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client

from billing_portal.celery import app
from tests.conftest import celery_use_broker

pytestmark = pytest.mark.django_db(transaction=True)

READY_CHECKS = {"database", "redis", "celery_broker", "migrations", "storage"}


def _get(path: str, **headers):
    """GET through the test client on a thread of its own, as a server's request thread runs the async readiness
    view: the browser tests leave Playwright's event loop on the main thread, where async_to_sync refuses to run."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(Client().get, path, **headers).result()


def test_live_answers_without_touching_a_dependency(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["X-Request-ID"]


def test_ready_reports_every_check_with_its_state_and_time(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    response = _get("/health/ready", HTTP_ACCEPT="text/html")  # JSON whatever the Accept header says
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == READY_CHECKS
    for name, check in body["checks"].items():
        assert check["state"] == "ok", name
        assert isinstance(check["time_ms"], float) and check["time_ms"] >= 0
    assert list(tmp_path.rglob("*.txt")) == []  # the storage probe file was deleted again


def test_ready_is_503_naming_the_check_when_the_broker_is_down(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    eager, url = app.conf.task_always_eager, app.conf.broker_url
    celery_use_broker("redis://127.0.0.1:1/0", eager=False)  # nothing listens on port 1
    try:
        response = _get("/health/ready")
    finally:
        celery_use_broker(url, eager=eager)
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["celery_broker"]["state"] == "unavailable"
    assert "broker unreachable" in body["checks"]["celery_broker"]["error"]
    assert body["checks"]["database"]["state"] == "ok"


def test_ready_is_503_when_redis_does_not_answer(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    body = _get("/health/ready").json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"]["state"] == "unavailable"


def test_ready_checks_the_replicas_lag_when_one_is_configured(settings, monkeypatch):
    """With DATABASE_REPLICA_URL the replica's lag is checked; a primary (not in recovery) is never behind."""
    from django.conf import settings as live_settings

    from apps.ops.health import ReplicaLag, readiness_checks

    monkeypatch.setitem(live_settings.DATABASES, "replica", live_settings.DATABASES["default"])
    names = [name for name, _ in readiness_checks()]
    assert "replica_lag" in names
    lag = dict(readiness_checks())["replica_lag"]
    assert isinstance(lag, ReplicaLag) and lag.max_seconds == settings.REPLICA_MAX_LAG_SECONDS
    lag.alias = "default"
    lag.run()  # a primary is never "behind"


def test_unapplied_migrations_fail_the_migrations_check(monkeypatch):
    from django.db.migrations.executor import MigrationExecutor
    from health_check.exceptions import ServiceUnavailable

    from apps.ops.health import Migrations

    class Pending:
        app_label, name = "usage", "0099_future"

    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [(Pending, False)])
    with pytest.raises(ServiceUnavailable, match="1 unapplied migration"):
        Migrations().run()
