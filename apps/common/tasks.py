"""Enqueuing Celery tasks after the current transaction commits: the one way a service starts background work.

Services name a task by its registered (dotted) name instead of importing the tasks module, because every tasks
module imports its services: importing back would be a services ↔ tasks cycle. The name is checked at once,
so a typo fails in the service call (and its tests), not silently after commit.
"""

from __future__ import annotations

import logging

from celery import current_app
from celery.app.task import Task
from django.db import transaction

logger = logging.getLogger(__name__)


def registered_task(name: str) -> Task:
    """The Celery task registered under `name`, importing every app's tasks module first if this process has
    not yet (Celery's own autodiscovery, which a worker runs at start and a web process only on demand).
    KeyError for an unknown name."""
    tasks = current_app.tasks
    if name not in tasks:
        current_app.loader.import_default_modules()
    return tasks[name]


def enqueue_on_commit(name: str, *args, countdown: float | None = None) -> None:
    """Send task `name` with `args` once the current transaction commits (at once outside a transaction), and
    never if it rolls back; with `countdown`, to run that many seconds later. A broker that cannot be reached is
    logged, not raised: the change itself is committed, and every task enqueued this way has a beat sweep that
    catches up with what was not sent."""
    task = registered_task(name)

    def send() -> None:
        try:
            task.apply_async(args, countdown=countdown)
        except Exception:
            logger.warning("could not enqueue %s%r; the beat sweep will catch up", name, args, exc_info=True)

    transaction.on_commit(send)
