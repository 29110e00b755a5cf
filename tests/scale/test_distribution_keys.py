"""Every hot table could be distributed by organization (Citus, docs/scaling.md): each of its primary and unique
keys, as the database holds them, includes organization_id."""

import pytest
from django.apps import apps
from django.db import connection

HOT = ["UsageEvent", "UsageEventKey", "MemberPeriodUsage", "OrgUsageSlot", "UsageDailyRollup"]


def _hot_tables() -> list[str]:
    models = apps.get_app_config("usage").get_models()
    # Every rollup the usage app keeps is written on the hot path too (daily now; an hourly one may follow).
    return sorted({m._meta.db_table for m in models if m.__name__ in HOT or m.__name__.endswith("Rollup")})


@pytest.mark.django_db
def test_every_primary_and_unique_key_of_the_hot_tables_includes_organization_id():
    tables = _hot_tables()
    assert len(tables) >= len(HOT)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.indexrelid::regclass::text, i.indisprimary, "
            "       array(SELECT a.attname FROM unnest(i.indkey) k JOIN pg_attribute a "
            "             ON a.attrelid = i.indrelid AND a.attnum = k) "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
            "WHERE i.indisunique AND c.relname = ANY(%s)", [tables]
        )
        keys = cursor.fetchall()
    assert {table for table, *_ in keys} == set(tables)  # each has at least its primary key
    assert {table for table, _, primary, _ in keys if primary} == set(tables)
    missing = [(table, index, columns) for table, index, _, columns in keys if "organization_id" not in columns]
    assert missing == []


@pytest.mark.django_db
def test_the_partitioned_ledger_keys_also_include_the_month():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array(SELECT a.attname FROM unnest(i.indkey) k JOIN pg_attribute a "
            "             ON a.attrelid = i.indrelid AND a.attnum = k) "
            "FROM pg_index i WHERE i.indrelid = 'usage_usageevent'::regclass AND i.indisunique"
        )
        assert all("period_start" in columns for (columns,) in cursor.fetchall())
