"""Health endpoints for a load balancer or an orchestrator (django-health-check runs the checks).

- GET /health/live: the process is up and serving (no dependency is touched: a database outage must not get
  every web process restarted).
- GET /health/ready: may this process take traffic? PostgreSQL, the replica's lag against
  REPLICA_MAX_LAG_SECONDS (when DATABASE_REPLICA_URL is set), Redis, the Celery broker, unapplied migrations and
  the file storage. JSON: {"status": "ok" | "unavailable", "checks": {name: {"state", "time_ms", "error"?}}};
  200 when every check passed, else 503.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime

import redis.asyncio
from celery import current_app
from django.conf import settings
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from health_check.base import HealthCheck
from health_check.checks import Database, Storage
from health_check.contrib.redis import Redis
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView


@dataclasses.dataclass
class ReplicaLag(HealthCheck):
    """The read replica answers and replays the primary's changes no later than `max_seconds` behind. A replica
    that has replayed everything it received is not lagging, however long ago the last write was."""

    alias: str = "replica"
    max_seconds: float = 30.0

    def run(self):
        try:
            with connections[self.alias].temporary_connection() as cursor:
                cursor.execute(
                    "SELECT pg_is_in_recovery(), CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() "
                    "THEN 0 ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END")
                in_recovery, lag = cursor.fetchone()
        except DatabaseError as exc:
            raise ServiceUnavailable("replica unreachable") from exc
        if not in_recovery:
            return  # the alias points at a primary (a test mirror, or a promoted replica): nothing lags
        if float(lag) > self.max_seconds:
            raise ServiceUnavailable(f"replica {float(lag):.1f} s behind (threshold {self.max_seconds:g} s)")


@dataclasses.dataclass
class CeleryBroker(HealthCheck):
    """The Celery broker accepts a connection. Without a broker (DEBUG only: production refuses to start
    without one, apps/ops/checks.py) tasks run in-process and there is nothing to reach."""

    timeout: datetime.timedelta = dataclasses.field(default=datetime.timedelta(seconds=3), repr=False)

    def run(self):
        app = current_app
        if app.conf.task_always_eager:
            return
        try:
            with app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=self.timeout.total_seconds())
        except Exception as exc:  # kombu raises the transport's own errors
            raise ServiceUnavailable("broker unreachable") from exc


@dataclasses.dataclass
class Migrations(HealthCheck):
    """Every migration of the code being run is applied (a release migrates before it serves)."""

    alias: str = "default"

    def run(self):
        try:
            connection = connections[self.alias]
            with connection.temporary_connection():
                executor = MigrationExecutor(connection)
                plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except DatabaseError as exc:
            raise ServiceUnavailable("database unreachable") from exc
        if plan:
            raise ServiceUnavailable(f"{len(plan)} unapplied migration(s), e.g. {plan[0][0].app_label}."
                                     f"{plan[0][0].name}")


def _redis_client():
    return redis.asyncio.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def readiness_checks() -> list[tuple[str, HealthCheck]]:
    checks: list[tuple[str, HealthCheck]] = [("database", Database(alias="default"))]
    if "replica" in settings.DATABASES:
        checks.append(("replica_lag", ReplicaLag(alias="replica", max_seconds=settings.REPLICA_MAX_LAG_SECONDS)))
    checks += [
        ("redis", Redis(client_factory=_redis_client)),
        ("celery_broker", CeleryBroker()),
        ("migrations", Migrations()),
        ("storage", Storage(alias="default")),
    ]
    return checks


class ReadinessView(HealthCheckView):
    """django-health-check's view (checks run concurrently, each within its timeout), answered as JSON with
    each check's state and time, 503 when any failed."""

    def get_checks(self):
        self.names = {}
        for name, check in readiness_checks():
            self.names[id(check)] = name
            yield check

    async def get(self, request, *args, **kwargs):
        with self.get_executor() as executor:
            self.results = await asyncio.gather(*(check.get_result(executor) for check in self.get_checks()))
        checks = {}
        for result in self.results:
            entry = {"state": "ok" if result.error is None else "unavailable",
                     "time_ms": round(result.time_taken * 1000, 1)}
            if result.error is not None:
                entry["error"] = str(result.error)
            checks[self.names[id(result.check)]] = entry
        failed = any(result.error is not None for result in self.results)
        return JsonResponse({"status": "unavailable" if failed else "ok", "checks": checks},
                            status=503 if failed else 200)


ready = ReadinessView.as_view()


@never_cache
def live(request):
    return JsonResponse({"status": "ok"})
