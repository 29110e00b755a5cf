from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExtraUsageConfig(AppConfig):
    verbose_name = _("Extra usage")  # the section heading in Django admin
    name = "apps.extra_usage"
    label = "extra_usage"
    default_auto_field = "django.db.models.BigAutoField"
