"""The product's own Prometheus counters, incremented where the event happens (one call at transport level: the
machine API's views, the Admin API's rate limit, Celery task signals). prometheus-client keeps them; under
gunicorn and Celery's prefork pool each process writes its own file in PROMETHEUS_MULTIPROC_DIR and /metrics
(apps/ops/metrics.py) adds them up. Figures that live in the database (queue depths, oldest ages, delivery
attempts, invoices, auto-reloads) are read at scrape time instead (apps/ops/collectors.py), so nothing is
counted twice and the hot path pays only an increment.

This module sits in `common` (the bottom layer) so that any app may count; it imports nothing of the project.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ADMISSIONS = Counter(
    "bp_admission_decisions",
    "Admission answers of the machine API, by decision and refusal reason (reason 'none' when allowed).",
    ["allowed", "reason"],
)
USAGE_EVENTS = Counter(
    "bp_usage_events",
    "Usage events received by the machine API, by outcome: created (stored and charged), replayed (same key and "
    "body: the first answer again, nothing charged), conflict (same key, other body: 409), invalid (400).",
    ["outcome"],
)
RATE_LIMIT_REFUSALS = Counter(
    "bp_rate_limit_refusals",
    "Requests refused with 429 by a rate limit, by API (machine, admin).",
    ["api"],
)
TASKS = Counter(
    "bp_celery_tasks",
    "Celery tasks run, by task name and final state (success, failure, retry).",
    ["task", "state"],
)
TASK_DURATION = Histogram(
    "bp_celery_task_duration_seconds",
    "Run time of Celery tasks, by task name (the invoice run is apps.invoicing.tasks.invoice_issue).",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)

WEBHOOK_ATTEMPTS = Counter(
    "bp_webhook_delivery_attempts",
    "Webhook delivery attempts made by the workers, by result (succeeded: a 2xx; failed: anything else).",
    ["result"],
)
WEBHOOK_DELIVERY_LAG = Histogram(
    "bp_webhook_delivery_lag_seconds",
    "From a webhook event's delivery being created to the attempt that delivered it (retries included).",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
)

_OUTCOMES = {"created": "created", "replayed": "replayed", "conflict": "conflict", "invalid": "invalid"}


def admission_count(decision) -> None:
    """Count one admission answer (a spending AdmissionDecision: `allowed`, `reason`)."""
    ADMISSIONS.labels("true" if decision.allowed else "false", decision.reason or "none").inc()


def usage_outcomes_count(outcomes) -> None:
    """Count recorded usage outcomes (each has `status`: created, replayed, conflict or invalid)."""
    for outcome in outcomes:
        USAGE_EVENTS.labels(_OUTCOMES.get(outcome.status, "other")).inc()


def webhook_attempt_count(attempt) -> None:
    """Count one webhook attempt (a WebhookAttempt, or None when there was nothing to send) and, when it
    delivered, how long after the delivery was created."""
    if attempt is None:
        return
    WEBHOOK_ATTEMPTS.labels("succeeded" if attempt.succeeded else "failed").inc()
    if attempt.succeeded:
        lag = (attempt.attempted_at - attempt.delivery.created_at).total_seconds() + attempt.latency_ms / 1000
        WEBHOOK_DELIVERY_LAG.observe(max(0.0, lag))
