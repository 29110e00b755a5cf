"""Monthly partitions of the usage ledger: PostgreSQL declarative range partitioning of `usage_usageevent` on
`period_start` (the billing month an event belongs to).

- One partition per month (`usage_usageevent_p2026_12`), created ahead by the daily beat task
  `apps.usage.tasks.usage_partitions_ensure` (USAGE_PARTITION_MONTHS_AHEAD months past the current one), and a
  DEFAULT partition that catches an event for a month nobody created (the ensure task then moves such rows
  into their own month's partition), so a late beat never refuses usage.
- Why a beat task and not pg_partman: the project already runs Celery beat, so this is one more idempotent
  task with no extension to install on every server (pg_partman needs CREATE EXTENSION and its own background
  worker or cron, and is not offered by every managed PostgreSQL); the rules (month bounds, the default
  partition, archiving) are fifty lines tested in `make test`.
- An old month is archived by detaching its partition into the `usage_archive` schema (from where an operator
  dumps and drops it). Invoices, dashboards and the counters read rollups and counters, never raw events, so
  their totals do not change (tests/scale/test_partitions.py).
- `ledger_partition_convert` turns the unpartitioned table of migrations 0001–0003 into the partitioned one,
  data included (migration 0004); `ledger_partition_revert` undoes it.

Every function takes a DB-API cursor on the primary and runs inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import re

EVENT_TABLE = "usage_usageevent"
DEFAULT_PARTITION = f"{EVENT_TABLE}_default"
ARCHIVE_SCHEMA = "usage_archive"
# Usage may arrive up to 400 days late, so conversion creates the months back to then.
MONTHS_BACK = 14
# The database's primary key of a partitioned table must include the partition key; organization_id is in it
# too, so the table could be distributed by organization (Citus; docs/scaling.md).
PARTITIONED_PRIMARY_KEY = ("id", "organization_id", "period_start")
_LOCK = 0x75736167  # pg_advisory_xact_lock key: one partition maintenance at a time
_BOUND = re.compile(r"FROM \('(\d{4}-\d{2}-\d{2})'\) TO \('(\d{4}-\d{2}-\d{2})'\)")


def month_add(month: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after the month of `month`."""
    years, index = divmod(month.month - 1 + months, 12)
    return dt.date(month.year + years, index + 1, 1)


def partition_name(month: dt.date) -> str:
    return f"{EVENT_TABLE}_p{month:%Y_%m}"


def ledger_is_partitioned(cursor) -> bool:
    cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [EVENT_TABLE])
    row = cursor.fetchone()
    return row is not None and row[0] == "p"


def ledger_partitions(cursor) -> dict[dt.date, str]:
    """The attached monthly partitions: {first day of the month: table name} (the default partition aside)."""
    cursor.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)", [EVENT_TABLE]
    )
    months = {}
    for name, bound in cursor.fetchall():
        found = _BOUND.search(bound or "")
        if found:
            months[dt.date.fromisoformat(found.group(1))] = name
    return months


def _literal(day: dt.date) -> str:
    return f"'{day.isoformat()}'"  # a date's ISO form is safe to inline; DDL takes no bound parameters


def _partition_create(cursor, month: dt.date) -> str:
    """Create and attach one month's partition. Rows of that month sitting in the default partition are moved
    into it first (PostgreSQL refuses to attach a range the default partition still holds rows of)."""
    name, start, end = partition_name(month), _literal(month), _literal(month_add(month, 1))
    cursor.execute(
        f"SELECT EXISTS (SELECT 1 FROM {DEFAULT_PARTITION} WHERE period_start >= {start} AND period_start < {end})"
    )
    if not cursor.fetchone()[0]:
        cursor.execute(f"CREATE TABLE {name} PARTITION OF {EVENT_TABLE} FOR VALUES FROM ({start}) TO ({end})")
        return name
    cursor.execute(f"CREATE TABLE {name} (LIKE {EVENT_TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    cursor.execute(
        f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE period_start >= {start} AND period_start < {end} "
        f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"
    )
    cursor.execute(f"ALTER TABLE {EVENT_TABLE} ATTACH PARTITION {name} FOR VALUES FROM ({start}) TO ({end})")
    return name


def ledger_partitions_ensure(cursor, *, today: dt.date, months_ahead: int, months_back: int = 0) -> list[str]:
    """Make sure the partitions from `months_back` months before `today`'s month to `months_ahead` months after
    it exist, plus one for every month found in the default partition. Returns the names created (none when
    everything was there: safe to run any number of times, also concurrently)."""
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
    current = today.replace(day=1)
    wanted = {month_add(current, n) for n in range(-months_back, months_ahead + 1)}
    cursor.execute(f"SELECT DISTINCT date_trunc('month', period_start)::date FROM {DEFAULT_PARTITION}")
    wanted |= {row[0] for row in cursor.fetchall()}
    existing = ledger_partitions(cursor)
    return [_partition_create(cursor, month) for month in sorted(wanted) if month not in existing]


def ledger_partition_archive(cursor, *, month: dt.date, today: dt.date) -> str:
    """Detach a past month's partition from the ledger and move it into the `usage_archive` schema; returns its
    qualified name. Invoices, dashboards and counters keep their totals: they read rollups and counters. The
    month's idempotency keys stay in UsageEventKey, so a late retry of an archived event is still a replay,
    never a second charge. An event arriving later for that month lands in a fresh partition (the default
    partition first, then its own at the next ensure run). The current and future months cannot be archived."""
    month = month.replace(day=1)
    if month >= today.replace(day=1):
        raise ValueError(f"{month:%Y-%m} is not a past month; only past months can be archived")
    name = ledger_partitions(cursor).get(month)
    if name is None:
        raise ValueError(f"the ledger has no partition for {month:%Y-%m}")
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
    cursor.execute(f"ALTER TABLE {EVENT_TABLE} DETACH PARTITION {name}")
    cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {ARCHIVE_SCHEMA}")
    cursor.execute(f"ALTER TABLE {name} SET SCHEMA {ARCHIVE_SCHEMA}")
    return f"{ARCHIVE_SCHEMA}.{name}"


# --- Converting the existing table (migration 0004) ----------------------------------------------------------


def _definitions(cursor, table: str) -> list[str]:
    """Statements re-creating the table's unique and foreign-key constraints and its other indexes, by their
    current names (the primary key aside, which each layout sets itself)."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(%s) "
        "AND contype IN ('u', 'f') ORDER BY contype DESC, conname", [table]
    )
    statements = [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for name, definition in cursor.fetchall()]
    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = to_regclass(%s) AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid) "
        "ORDER BY i.indexrelid", [table]
    )
    statements += [definition.replace(" ONLY ", " ") for (definition,) in cursor.fetchall()]
    return statements


def _rebuild(cursor, *, partitioned: bool, months: list[dt.date]) -> None:
    """Copy the event table into a new table of the other layout under the same name, with the same columns,
    defaults, identity, checks, constraints and indexes (names kept, so later migrations find them)."""
    old = f"{EVENT_TABLE}_rebuilt_from"
    definitions = _definitions(cursor, EVENT_TABLE)
    cursor.execute(f"LOCK TABLE {EVENT_TABLE} IN ACCESS EXCLUSIVE MODE")
    cursor.execute(f"ALTER TABLE {EVENT_TABLE} RENAME TO {old}")
    layout = " PARTITION BY RANGE (period_start)" if partitioned else ""
    cursor.execute(f"CREATE TABLE {EVENT_TABLE} (LIKE {old} INCLUDING DEFAULTS INCLUDING IDENTITY "
                   f"INCLUDING CONSTRAINTS){layout}")
    if partitioned:
        cursor.execute(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {EVENT_TABLE} DEFAULT")
        for month in months:
            _partition_create(cursor, month)
    cursor.execute(f"INSERT INTO {EVENT_TABLE} OVERRIDING SYSTEM VALUE SELECT * FROM {old}")
    cursor.execute(f"SELECT pg_get_serial_sequence('{EVENT_TABLE}', 'id')")
    sequence = cursor.fetchone()[0]
    cursor.execute(f"SELECT setval('{sequence}', COALESCE((SELECT max(id) FROM {old}), 0) + 1, false)")
    cursor.execute(f"DROP TABLE {old}")  # its identity sequence goes with it; the new one takes its name
    cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {EVENT_TABLE}_id_seq")
    key = ", ".join(PARTITIONED_PRIMARY_KEY if partitioned else ("id",))
    cursor.execute(f"ALTER TABLE {EVENT_TABLE} ADD CONSTRAINT {EVENT_TABLE}_pkey PRIMARY KEY ({key})")
    for statement in definitions:
        cursor.execute(statement)


def ledger_partition_convert(cursor, *, today: dt.date, months_ahead: int) -> None:
    """Turn the unpartitioned event table into monthly partitions, keeping every row (in its month's partition)
    and every id. One partition per month holding events, and from MONTHS_BACK months before `today` to
    `months_ahead` after it. Holds an exclusive lock on the table while it copies: see docs/scaling.md for the
    steps on a table too large to copy in one maintenance window."""
    if ledger_is_partitioned(cursor):
        return
    cursor.execute(f"SELECT DISTINCT date_trunc('month', period_start)::date FROM {EVENT_TABLE}")
    current = today.replace(day=1)
    months = {row[0] for row in cursor.fetchall()}
    months |= {month_add(current, n) for n in range(-MONTHS_BACK, months_ahead + 1)}
    _rebuild(cursor, partitioned=True, months=sorted(months))


def ledger_partition_revert(cursor) -> None:
    """Turn the partitioned event table back into one plain table, rows and ids kept (migration 0004 reversed).
    Archived (detached) partitions are not brought back."""
    if ledger_is_partitioned(cursor):
        _rebuild(cursor, partitioned=False, months=[])
