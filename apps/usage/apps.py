from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UsageConfig(AppConfig):
    verbose_name = _("Usage and prices")  # the section heading in Django admin
    name = "apps.usage"
    label = "usage"
    default_auto_field = "django.db.models.BigAutoField"
