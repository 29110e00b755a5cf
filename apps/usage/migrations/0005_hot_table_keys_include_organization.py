"""Every primary and unique key of the hot tables (events, idempotency keys, member counters, organization slots,
daily rollups) includes organization_id, so each table could be distributed by organization (Citus, docs/
scaling.md); tests/scale/test_distribution_keys.py holds it. Unique keys gain organization_id as their last
column (a member belongs to one organization, so nothing becomes unique that was not; the indexes still lead
with the member). On PostgreSQL the primary keys become (id, organization_id); Django still addresses rows by
`id`, which one sequence keeps unique."""

from django.db import migrations, models

TABLES = ("usage_memberperiodusage", "usage_orgusageslot", "usage_usagedailyrollup")


def primary_keys(columns: str):
    def apply(apps, schema_editor):
        with schema_editor.connection.cursor() as cursor:
            for table in TABLES:
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, "
                               f"ADD CONSTRAINT {table}_pkey PRIMARY KEY ({columns})")
    return apply


class Migration(migrations.Migration):

    dependencies = [
        ('organizations', '0003_invitation'),
        ('usage', '0004_partitioned_ledger'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='memberperiodusage',
            name='member_usage_one_per_period',
        ),
        migrations.AddConstraint(
            model_name='memberperiodusage',
            constraint=models.UniqueConstraint(fields=('membership', 'period_start', 'organization'), name='member_usage_one_per_period_org'),
        ),
        migrations.RemoveConstraint(
            model_name='usagedailyrollup',
            name='rollup_unique_member_day_model_product',
        ),
        migrations.AddConstraint(
            model_name='usagedailyrollup',
            constraint=models.UniqueConstraint(fields=('membership', 'day', 'model', 'product', 'organization'), name='rollup_unique_member_day_model_product_org'),
        ),
        migrations.RunPython(primary_keys("id, organization_id"), primary_keys("id")),
    ]
