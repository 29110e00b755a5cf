from django.apps import AppConfig


class ExtraUsageConfig(AppConfig):
    name = "apps.extra_usage"
    label = "extra_usage"
    default_auto_field = "django.db.models.BigAutoField"
