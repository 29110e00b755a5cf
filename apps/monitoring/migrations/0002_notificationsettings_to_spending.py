# NotificationSettings now belongs to the spending app (see apps/spending/migrations/0001_initial.py): it leaves
# monitoring's migration state; the table stays. Its content type follows it, so permissions granted on it stay.

from django.db import migrations


def content_type_move(apps, schema_editor, source="monitoring", target="spending"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label=target, model="notificationsettings").exists():
        ContentType.objects.filter(app_label=source, model="notificationsettings").update(app_label=target)


def content_type_move_back(apps, schema_editor):
    content_type_move(apps, schema_editor, source="spending", target="monitoring")


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("monitoring", "0001_initial"),
        ("spending", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="NotificationSettings")],
            database_operations=[],
        ),
        migrations.RunPython(content_type_move, content_type_move_back),
    ]
