"""Celery task figures from Celery's own signals, in every process that runs tasks (workers, and web processes
when tasks run eagerly): tasks by name and final state, and their run time (bp_celery_tasks,
bp_celery_task_duration_seconds in apps/common/metrics.py). Queue lengths are read from the broker at scrape
time (collectors.BrokerCollector)."""

from __future__ import annotations

import time

from celery.signals import task_failure, task_postrun, task_prerun, task_retry

from apps.common.metrics import TASK_DURATION, TASKS

_started: dict[str, float] = {}


def _prerun(task_id=None, task=None, **kwargs):
    if task_id:
        _started[task_id] = time.perf_counter()


def _postrun(task_id=None, task=None, state=None, **kwargs):
    started = _started.pop(task_id, None)
    name = getattr(task, "name", "unknown")
    if started is not None:
        TASK_DURATION.labels(name).observe(time.perf_counter() - started)
    if state == "SUCCESS":
        TASKS.labels(name, "success").inc()


def _failure(sender=None, **kwargs):
    TASKS.labels(getattr(sender, "name", "unknown"), "failure").inc()


def _retry(sender=None, **kwargs):
    TASKS.labels(getattr(sender, "name", "unknown"), "retry").inc()


def connect() -> None:
    task_prerun.connect(_prerun, weak=False, dispatch_uid="ops_task_prerun")
    task_postrun.connect(_postrun, weak=False, dispatch_uid="ops_task_postrun")
    task_failure.connect(_failure, weak=False, dispatch_uid="ops_task_failure")
    task_retry.connect(_retry, weak=False, dispatch_uid="ops_task_retry")
