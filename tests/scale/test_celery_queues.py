"""Celery work is split into queues (settings.CELERY_TASK_ROUTES) so invoicing or digests never delay the
after-usage follow-ups, and the README's worker command starts a worker on every queue."""

import re
from pathlib import Path

import pytest

from billing_portal.celery import app

EXPECTED = {
    "apps.spending.tasks.usage_followups": "followups",
    "apps.extra_usage.tasks.auto_reload_task": "followups",
    "apps.extra_usage.tasks.auto_reload_sweep": "followups",
    "apps.monitoring.tasks.monitoring_sweep": "followups",
    "apps.monitoring.tasks.org_daily_refresh_task": "followups",
    "apps.monitoring.tasks.spend_notifications_task": "notices",
    "apps.extra_usage.tasks.request_decision_notify_task": "notices",
    "apps.invoicing.tasks.invoice_run_due_periods": "invoicing",
    "apps.invoicing.tasks.invoice_issue": "invoicing",
    "apps.invoicing.tasks.invoice_issued_followups": "invoicing",
    "apps.usage.tasks.usage_partitions_ensure": "invoicing",
    "apps.spending.tasks.digest_send_daily": "digests",
    "apps.spending.tasks.digest_send_organization_task": "digests",
}


def _queue(task_name: str) -> str:
    return app.amqp.router.route({}, task_name, args=(), kwargs={})["queue"].name


@pytest.mark.parametrize("task_name", sorted(EXPECTED))
def test_each_task_is_routed_to_its_queue(task_name):
    app.loader.import_default_modules()
    assert task_name in app.tasks
    assert _queue(task_name) == EXPECTED[task_name]


def test_a_task_without_a_route_goes_to_the_default_queue():
    assert _queue("apps.some_app.tasks.not_routed") == "default"


def test_the_readme_worker_commands_consume_every_queue():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    consumed = set()
    for queues in re.findall(r"celery -A billing_portal worker [^\n]*?-Q ([\w,]+)", readme):
        consumed |= set(queues.split(","))
    assert set(EXPECTED.values()) | {"default"} <= consumed
