from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "apps.notices"
    verbose_name = "Notices (email)"
    default_auto_field = "django.db.models.BigAutoField"
