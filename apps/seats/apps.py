from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SeatsConfig(AppConfig):
    verbose_name = _("Seats")  # the section heading in Django admin
    name = "apps.seats"
    label = "seats"
    default_auto_field = "django.db.models.BigAutoField"
