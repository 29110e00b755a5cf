"""Operations: health, metrics, structured logs, error reporting, deployment checks, branding (issue 24)."""

from celery.signals import worker_init
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from . import checks, task_metrics


class OpsConfig(AppConfig):
    name = "apps.ops"
    label = "ops"
    verbose_name = _("Operations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import admin_money  # after django.contrib.admin's autodiscovery: every ModelAdmin is registered

        admin_money.money_columns_install()
        task_metrics.connect()
        # A worker refuses to start on a configuration error, as the web process does (billing_portal/wsgi.py).
        worker_init.connect(_refuse_misconfigured_worker, weak=False, dispatch_uid="ops_worker_init")


def _refuse_misconfigured_worker(**kwargs):
    checks.refuse_misconfiguration()
