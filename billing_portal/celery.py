import os

from celery import Celery
from celery.signals import setup_logging
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_portal.settings")

app = Celery("billing_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Task log lines carry the request id of the request that queued them (django-structlog; apps/ops/logs.py).
app.steps["worker"].add(DjangoStructLogInitStep)


@setup_logging.connect
def _project_logging(**kwargs):
    """Workers log through the project's LOGGING (structured, redacted) instead of Celery's own handlers."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
