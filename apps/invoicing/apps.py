from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InvoicingConfig(AppConfig):
    verbose_name = _("Invoicing")  # the section heading in Django admin
    name = "apps.invoicing"
    label = "invoicing"
    default_auto_field = "django.db.models.BigAutoField"
