from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InvoicingConfig(AppConfig):
    verbose_name = _("Invoicing")  # the section heading in Django admin
    name = "apps.invoicing"
    label = "invoicing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The dashboards show a closed period's billed figure beside the exact one; monitoring sits below
        # invoicing, so invoicing registers its reader there (apps/monitoring/totals.py).
        from apps.monitoring.totals import billed_reader_register

        from .selectors import invoice_billed_period

        billed_reader_register(invoice_billed_period)
