"""Primary/replica routing for when one PostgreSQL server is no longer enough (docs/scaling.md).

Off by default: without DATABASE_REPLICA_URL there is only "default" and everything reads and writes there.
With it, settings add a "replica" alias, and the reporting pages read from it without any change to their
queries: ReplicaPinMiddleware marks a request to one of settings.REPLICA_READ_VIEWS (the usage dashboards, a
member's usage page, exports), and for the rest of that request the router sends reads of the reporting apps'
models (REPLICA_READ_APPS: rollups, counters, caps, invoices) to `dashboard_db()`.

Rules:
- Writes always go to "default" (the primary), even for an object that was read from the replica: the ledger,
  counters and every service write live on the primary only.
- Everything else reads the primary: sessions, users and memberships (so access checks and a fresh login never
  see a lagging copy), every non-GET request, and the hot path (admission, usage recording, caps), which runs
  its own SQL on the default connection and must see the latest counters.
- Read your own writes: after any non-GET request of a signed-in browser, the middleware sets a short-lived
  cookie and that person's requests read the primary for settings.REPLICA_PIN_SECONDS, so a setting just
  changed shows at once even while the replica lags.
- Pages read from the replica say how fresh they are ("Data as of …", `replica_data_as_of`).
- Only "default" is migrated; a replica receives the schema through replication.
- DASHBOARD_DB_ALIAS (default "replica" when a replica is configured, else "default") points the reporting reads
  elsewhere with one setting, e.g. back to "default" while a replica is rebuilt.
"""

from __future__ import annotations

import datetime as dt
import time
from contextvars import ContextVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.functional import SimpleLazyObject

REPLICA_DB_ALIAS = "replica"
PIN_COOKIE = "bp_primary_until"
# Models of these apps are read from the replica during a reporting request; every other app stays on the primary.
REPLICA_READ_APPS = frozenset({"usage", "monitoring", "invoicing", "seats", "extra_usage"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_replica_reads: ContextVar[bool] = ContextVar("replica_reads", default=False)


def dashboard_db() -> str:
    """The database alias that dashboard and monitoring reads should use (`.using(dashboard_db())`)."""
    return getattr(settings, "DASHBOARD_DB_ALIAS", DEFAULT_DB_ALIAS) or DEFAULT_DB_ALIAS


class PrimaryReplicaRouter:
    """Writes and migrations to the primary; reads wherever the caller asked (the primary when it did not)."""

    _same_data = {DEFAULT_DB_ALIAS, REPLICA_DB_ALIAS}

    def db_for_read(self, model, **hints):
        # The primary, unless this is a reporting request (ReplicaPinMiddleware) reading a reporting model.
        if _replica_reads.get() and model._meta.app_label in REPLICA_READ_APPS:
            return dashboard_db()
        return None

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        # The replica holds the same rows as the primary, so objects from either may be related.
        if obj1._state.db in self._same_data and obj2._state.db in self._same_data:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


def _replica_stream(chunks):
    token = _replica_reads.set(True)
    try:
        yield from chunks
    finally:
        _replica_reads.reset(token)


def _pinned_until(request) -> float:
    try:
        return float(request.COOKIES.get(PIN_COOKIE, 0))
    except ValueError:
        return 0.0


class ReplicaPinMiddleware:
    """Sends a reporting page's reads to the replica, unless this browser wrote something in the last
    REPLICA_PIN_SECONDS (read your own writes); and starts that window on every non-GET request of a signed-in
    browser. Machine API calls carry no session cookie: they are never pinned, nor given a cookie."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.reads_from_replica = False
        try:
            response = self.get_response(request)
        finally:
            token = getattr(request, "_replica_reads_token", None)
            if token is not None:
                _replica_reads.reset(token)
        if request.reads_from_replica and response.streaming:
            # An export streams its rows after the view returned: they are read from the replica too.
            response.streaming_content = _replica_stream(response.streaming_content)
        if request.method not in _SAFE_METHODS and settings.SESSION_COOKIE_NAME in request.COOKIES:
            seconds = settings.REPLICA_PIN_SECONDS
            response.set_cookie(PIN_COOKIE, f"{time.time() + seconds:.3f}", max_age=seconds, httponly=True,
                                samesite="Lax", secure=settings.SESSION_COOKIE_SECURE)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if (dashboard_db() != DEFAULT_DB_ALIAS and request.method in _SAFE_METHODS
                and request.resolver_match.view_name in settings.REPLICA_READ_VIEWS
                and _pinned_until(request) <= time.time()):
            request._replica_reads_token = _replica_reads.set(True)
            request.reads_from_replica = True
        return None


def replica_data_as_of(alias: str) -> dt.datetime | None:
    """When the replica's data was current: now when it is streaming and has replayed everything it received
    (an idle primary sends nothing new), else the commit time of the last transaction it replayed
    (pg_last_xact_replay_timestamp()). None on a server that is not a standby."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL "
            "WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() "
            "AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN now() "
            "ELSE pg_last_xact_replay_timestamp() END"
        )
        return cursor.fetchone()[0]


def replica_freshness(request) -> dict:
    """Template context: `data_as_of`, when this request read from the replica (lazy: one query, only when a
    page shows it)."""
    if not getattr(request, "reads_from_replica", False):
        return {"data_as_of": None}
    return {"data_as_of": SimpleLazyObject(lambda: replica_data_as_of(dashboard_db()))}
