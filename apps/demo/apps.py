from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data only: the `seed_demo` management command. No models."""

    name = "apps.demo"
    label = "demo"
    default_auto_field = "django.db.models.BigAutoField"
