"""The one way services start background work: by task name, after commit, never for a rolled-back change."""

import pytest
from django.db import transaction

from apps.common.tasks import enqueue_on_commit, registered_task

pytestmark = pytest.mark.django_db


def test_an_unknown_task_name_fails_in_the_service_call_not_after_commit():
    with pytest.raises(KeyError):
        enqueue_on_commit("apps.monitoring.tasks.no_such_task", 1)


def test_the_task_is_sent_only_when_the_transaction_commits(django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    task = registered_task("apps.extra_usage.tasks.auto_reload_task")
    monkeypatch.setattr(task, "apply_async", lambda args, countdown=None: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit("apps.extra_usage.tasks.auto_reload_task", 42)
        assert sent == []  # not before the commit
    assert sent == [(42,)]


def test_a_rolled_back_change_sends_nothing(django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    task = registered_task("apps.extra_usage.tasks.auto_reload_task")
    monkeypatch.setattr(task, "apply_async", lambda args, countdown=None: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                enqueue_on_commit("apps.extra_usage.tasks.auto_reload_task", 42)
                raise RuntimeError("the change fails")
        except RuntimeError:
            pass
    assert callbacks == [] and sent == []


def test_a_broker_outage_is_logged_not_raised(django_capture_on_commit_callbacks, monkeypatch, caplog):
    task = registered_task("apps.extra_usage.tasks.auto_reload_task")

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(task, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit("apps.extra_usage.tasks.auto_reload_task", 7)
    assert "could not enqueue apps.extra_usage.tasks.auto_reload_task" in caplog.text
