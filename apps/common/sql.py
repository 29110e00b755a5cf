"""Hand-written SQL for the machine API's hot path: server-side prepared statements whose rows load back into
model instances.

The ORM builds each query afresh (about 1 ms of Python per query on this hardware) and Django binds parameters
client-side, so PostgreSQL re-plans every time. The hot path (admission and usage recording, measured by
`make bench`, see docs/scaling.md) instead joins what it needs into one statement, prepared once per
connection; the select list is built from the models' own field lists, so a column added by a migration is
picked up without editing the SQL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model


@dataclass(frozen=True)
class _Part:
    model: type[Model]
    attnames: list[str]
    span: slice


class JoinedRow:
    """The select list of a join: every concrete column of each (alias, model), then extra expressions.

    `JoinedRow([("k", ApiKey), ("o", Organization)], extra=["p.period"])` gives `select_list` to put after
    SELECT, then `load(row, "o")` builds the Organization from a fetched row (None when its columns are NULL,
    i.e. a LEFT JOIN found nothing) and `trailing(row)` returns the extra values in order.
    """

    def __init__(self, models: list[tuple[str, type[Model]]], extra: list[str] = ()):
        columns, self._parts, start = [], {}, 0
        for alias, model in models:
            fields = model._meta.concrete_fields
            columns += [f'{alias}."{f.column}"' for f in fields]
            self._parts[alias] = _Part(model, [f.attname for f in fields], slice(start, start + len(fields)))
            start += len(fields)
        self._extra_start = start
        self.select_list = ", ".join(columns + list(extra))

    def load(self, row: tuple, alias: str) -> Model | None:
        part = self._parts[alias]
        values = row[part.span]
        # The first column is the primary key: NULL only when an outer join matched no row.
        return None if values[0] is None else part.model.from_db(DEFAULT_DB_ALIAS, part.attnames, values)

    def trailing(self, row: tuple) -> tuple:
        return tuple(row[self._extra_start:])


def server_bound_fetchall(sql: str, params: list | dict, *, prepare: bool) -> list[tuple]:
    """Run one statement that returns rows (a SELECT, or a write with RETURNING) on the default connection with
    server-side parameter binding (values travel apart from the SQL text, so psycopg does not quote them into
    it); all its rows. With `prepare`, it is planned once per persistent connection: for statements whose text
    does not vary (the variable-length ones would fill psycopg's cache of prepared statements), unless
    settings.DATABASE_PREPARED_STATEMENTS is off (behind PgBouncer in transaction-pooling mode, where the next
    transaction may run on a server connection that never saw the statement). PostgreSQL only. Takes part in
    the connection's current transaction, like any query."""
    import psycopg

    db = connections[DEFAULT_DB_ALIAS]  # looked up once: each `connection.x` goes through a thread-local proxy
    db.ensure_connection()
    raw = db.connection
    if raw.prepare_threshold is None:
        # Django turns psycopg's automatic preparation off (None); allow explicit prepare=True only, so Django's
        # own client-side-bound queries are never prepared.
        raw.prepare_threshold = 2**31
    started = time.monotonic()
    # Errors surface as Django's exceptions (IntegrityError, OperationalError, …), as from Django's own cursors,
    # and a broken connection is marked unusable so Django replaces it.
    with db.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, prepare=prepare and settings.DATABASE_PREPARED_STATEMENTS)
        rows = cursor.fetchall()
    if db.queries_logged:  # DEBUG or a test counting queries: log it as Django logs its own
        db.queries_log.append({"sql": f"/* server-bound */ {sql}", "time": f"{time.monotonic() - started:.3f}"})
    return rows


def prepared_fetchone(sql: str, params: dict) -> tuple | None:
    """Run one statement as a server-side prepared statement on the default connection; its first row.

    Planning a many-table join costs several times more than running it (EXPLAIN ANALYZE), so it is planned
    once per persistent connection (when settings.DATABASE_PREPARED_STATEMENTS is on: the default; off behind
    PgBouncer in transaction-pooling mode, where it is bound server-side but planned each time). PostgreSQL only.
    """
    rows = server_bound_fetchall(sql, params, prepare=True)
    return rows[0] if rows else None
