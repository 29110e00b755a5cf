"""Primary/replica routing for when one PostgreSQL server is no longer enough (docs/scaling.md).

Off by default: without DATABASE_REPLICA_URL there is only "default" and everything reads and writes there.
With it, settings add a "replica" alias, and the heavy read-only pages (dashboards, monitoring, exports) read
from it by asking for `dashboard_db()` explicitly:

    UsageDailyRollup.objects.using(dashboard_db()).filter(...)

Rules:
- Writes always go to "default" (the primary), even for an object that was read from the replica: the ledger,
  counters and every service write live on the primary only.
- Reads go to "default" unless the code names the dashboard alias. The hot path (admission, usage recording,
  caps) never reads the replica, because a replica lags and those decisions must see the latest counters.
- Only "default" is migrated; a replica receives the schema through replication.
- DASHBOARD_DB_ALIAS (default "replica" when a replica is configured, else "default") points the dashboards
  elsewhere with one setting, e.g. back to "default" while a replica is rebuilt.
"""

from __future__ import annotations

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

REPLICA_DB_ALIAS = "replica"


def dashboard_db() -> str:
    """The database alias that dashboard and monitoring reads should use (`.using(dashboard_db())`)."""
    return getattr(settings, "DASHBOARD_DB_ALIAS", DEFAULT_DB_ALIAS) or DEFAULT_DB_ALIAS


class PrimaryReplicaRouter:
    """Writes and migrations to the primary; reads wherever the caller asked (the primary when it did not)."""

    _same_data = {DEFAULT_DB_ALIAS, REPLICA_DB_ALIAS}

    def db_for_read(self, model, **hints):
        return None  # the primary, unless the queryset says .using(...)

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        # The replica holds the same rows as the primary, so objects from either may be related.
        if obj1._state.db in self._same_data and obj2._state.db in self._same_data:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS
