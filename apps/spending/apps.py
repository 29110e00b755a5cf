from django.apps import AppConfig


class SpendingConfig(AppConfig):
    name = "apps.spending"
    label = "spending"
    default_auto_field = "django.db.models.BigAutoField"
