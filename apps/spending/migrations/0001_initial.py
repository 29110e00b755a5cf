# NotificationSettings moves from monitoring to spending in the migration state only: its table
# (monitoring_notificationsettings) and rows stay as they are.

import django.db.models.deletion
from django.db import migrations, models

import apps.spending.models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("monitoring", "0001_initial"),
        ("organizations", "0002_membership_removed_at"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="NotificationSettings",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("thresholds", models.JSONField(default=apps.spending.models.default_thresholds)),
                        ("updated_at", models.DateTimeField()),
                        ("organization", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE,
                                                              related_name="+", to="organizations.organization")),
                    ],
                    options={
                        "verbose_name_plural": "notification settings",
                        "db_table": "monitoring_notificationsettings",
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
