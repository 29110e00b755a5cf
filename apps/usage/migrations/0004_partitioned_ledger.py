"""The usage ledger becomes monthly partitions (PostgreSQL), with its exactly-once guard in UsageEventKey.

Steps, all in this migration's transaction (docs/scaling.md, "Partitioning an existing ledger"):
1. create UsageEventKey and fill it from the stored events (one row per organization and idempotency key);
2. the event table's unique key becomes (organization, idempotency_key, period_start): a partitioned table's
   unique keys must include the partition key;
3. on PostgreSQL, copy the table into a partitioned one of the same name, every row into its month's partition,
   ids, constraints and index names kept (apps/usage/partitions.py::ledger_partition_convert).
Reversible: the reverse copies the rows back into one plain table.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

from apps.usage.partitions import ledger_partition_convert, ledger_partition_revert


def keys_fill(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO usage_usageeventkey (organization_id, idempotency_key, period_start, event_id) "
            "SELECT organization_id, idempotency_key, period_start, id FROM usage_usageevent"
        )


def partition(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        ledger_partition_convert(cursor, today=timezone.now().date(),
                                 months_ahead=settings.USAGE_PARTITION_MONTHS_AHEAD)


def unpartition(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        ledger_partition_revert(cursor)


class Migration(migrations.Migration):

    dependencies = [
        ('organizations', '0003_invitation'),
        ('usage', '0003_drop_redundant_hot_table_indexes'),
        # The prepaid draw's database foreign key to the event goes first: a key referencing a partitioned
        # table would have to include the partition key.
        ('extra_usage', '0004_prepaid_draw_event_no_db_fk'),
    ]

    operations = [
        migrations.CreateModel(
            name='UsageEventKey',
            fields=[
                ('pk', models.CompositePrimaryKey('organization_id', 'idempotency_key', blank=True, editable=False, primary_key=True, serialize=False)),
                ('organization', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='organizations.organization')),
                ('idempotency_key', models.CharField(max_length=200)),
                ('period_start', models.DateField(help_text='The month (partition) holding the event.')),
                ('event_id', models.BigIntegerField()),
            ],
        ),
        migrations.RunPython(keys_fill, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name='usageevent',
            name='event_idempotency_key',
        ),
        migrations.AddConstraint(
            model_name='usageevent',
            constraint=models.UniqueConstraint(fields=('organization', 'idempotency_key', 'period_start'), name='event_idempotency_key_month'),
        ),
        migrations.RunPython(partition, unpartition),
    ]
