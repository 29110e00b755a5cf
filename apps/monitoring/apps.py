from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "apps.monitoring"
    label = "monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Spend notices are a follow-up of recorded usage; spending sits below monitoring, so monitoring
        # registers its step there (apps/spending/followups.py). Imported here: models load after app configs.
        from apps.spending.followups import followup_step_register

        from .services import spend_notifications_check

        followup_step_register(spend_notifications_check)
