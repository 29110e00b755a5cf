"""Figures read from the database when Prometheus scrapes /metrics, not counted in the request path: they are
the database's own truth whatever process changed it, they survive restarts, and the hot path pays nothing.

Each scrape runs a handful of small aggregate queries, all on indexed columns or small tables, inside one
read-only transaction with a statement timeout: a slow database yields a `bp_scrape_error` sample, never a
hanging scrape.
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import connections, transaction
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from apps.extra_usage.models import PrepaidCharge
from apps.invoicing.models import Invoice
from apps.notices.models import EmailOutbox, OutboxStatus
from apps.webhooks.models import DeliveryStatus, WebhookDelivery

logger = logging.getLogger(__name__)

SCRAPE_STATEMENT_TIMEOUT_MS = 2000


def _age_seconds(oldest, now) -> float:
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


class DatabaseCollector(Collector):
    """Queue depths and oldest ages (email outbox, webhook deliveries), invoices and prepaid charges by status
    (auto-reload outcomes), and PostgreSQL's own transaction and connection figures."""

    def __init__(self, alias: str = "default"):
        self.alias = alias

    def collect(self):
        families: list = []
        error = 0.0
        try:
            with transaction.atomic(using=self.alias):
                with connections[self.alias].cursor() as cursor:
                    cursor.execute(f"SET LOCAL statement_timeout = {SCRAPE_STATEMENT_TIMEOUT_MS}")
                    cursor.execute("SET TRANSACTION READ ONLY")
                families = self._families(timezone.now())
        except Exception:  # a scrape must answer; the failure is a sample (alerted on) and a log line
            logger.warning("metrics: database figures unavailable", exc_info=True)
            error = 1.0
        yield from families
        yield GaugeMetricFamily("bp_scrape_error", "1 when the database figures of this scrape could not be read.",
                                value=error)

    def _families(self, now) -> list:
        db = self.alias
        outbox = GaugeMetricFamily("bp_email_outbox", "Emails in the outbox by status (queued and sending are "
                                   "the queue; failed gave up after the last retry).", labels=["status"])
        rows = dict(EmailOutbox.objects.using(db).filter(status__in=[OutboxStatus.QUEUED, OutboxStatus.SENDING,
                                                                      OutboxStatus.FAILED])
                    .values_list("status").annotate(n=Count("id")).values_list("status", "n"))
        for status in (OutboxStatus.QUEUED, OutboxStatus.SENDING, OutboxStatus.FAILED):
            outbox.add_metric([status], rows.get(status, 0))
        oldest_email = (EmailOutbox.objects.using(db)
                        .filter(status__in=[OutboxStatus.QUEUED, OutboxStatus.SENDING])
                        .aggregate(oldest=Min("created_at"))["oldest"])
        outbox_age = GaugeMetricFamily("bp_email_outbox_oldest_age_seconds",
                                       "Age of the oldest email not yet sent (0 when the queue is empty).",
                                       value=_age_seconds(oldest_email, now))

        pending = WebhookDelivery.objects.using(db).filter(status=DeliveryStatus.PENDING).aggregate(
            n=Count("id"), due=Count("id", filter=Q(next_attempt_at__lte=now)), oldest=Min("created_at"))
        deliveries = GaugeMetricFamily("bp_webhook_deliveries_pending",
                                       "Webhook deliveries not yet delivered nor given up (the queue).",
                                       value=pending["n"])
        due = GaugeMetricFamily("bp_webhook_deliveries_due",
                                "Pending webhook deliveries whose next attempt is due now.", value=pending["due"])
        webhook_age = GaugeMetricFamily("bp_webhook_deliveries_oldest_age_seconds",
                                        "Age of the oldest pending webhook delivery (0 when none is pending).",
                                        value=_age_seconds(pending["oldest"], now))

        invoices = GaugeMetricFamily("bp_invoices", "Invoices by status.", labels=["status"])
        for status, n in Invoice.objects.using(db).order_by().values_list("status").annotate(n=Count("id")):
            invoices.add_metric([status], n)

        charges = GaugeMetricFamily("bp_prepaid_charges", "Prepaid extra-usage charges by kind (purchase, "
                                    "auto_reload) and outcome (pending, succeeded, failed).", labels=["kind", "status"])
        for kind, status, n in (PrepaidCharge.objects.using(db).order_by().values_list("kind", "status")
                                .annotate(n=Count("id"))):
            charges.add_metric([kind, status], n)

        families = [outbox, outbox_age, deliveries, due, webhook_age, invoices, charges]
        families += self._postgres()
        return families

    def _postgres(self) -> list:
        """PostgreSQL's own counters for this database (all processes, the hot path's raw statements too)."""
        with connections[self.alias].cursor() as cursor:
            cursor.execute(
                "SELECT xact_commit, xact_rollback, deadlocks, conflicts, temp_bytes, numbackends "
                "FROM pg_stat_database WHERE datname = current_database()")
            commits, rollbacks, deadlocks, conflicts, temp_bytes, backends = cursor.fetchone()
            cursor.execute("SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity "
                           "WHERE datname = current_database() GROUP BY 1")
            states = cursor.fetchall()
        stats = GaugeMetricFamily("bp_postgres_transactions", "Transactions of this database since its statistics "
                                  "were reset (pg_stat_database), by outcome.", labels=["outcome"])
        stats.add_metric(["commit"], commits)
        stats.add_metric(["rollback"], rollbacks)
        other = GaugeMetricFamily("bp_postgres_events", "Deadlocks, recovery conflicts and temporary-file bytes of "
                                  "this database (pg_stat_database).", labels=["event"])
        other.add_metric(["deadlocks"], deadlocks)
        other.add_metric(["conflicts"], conflicts)
        other.add_metric(["temp_bytes"], temp_bytes)
        connections_family = GaugeMetricFamily("bp_postgres_connections",
                                               "Connections to this database by state (pg_stat_activity).",
                                               labels=["state"])
        for state, n in states:
            connections_family.add_metric([state], n)
        if not states:
            connections_family.add_metric(["active"], backends)
        return [stats, other, connections_family]


class BrokerCollector(Collector):
    """Messages waiting in each Celery queue, read from the broker at scrape time (Redis brokers: LLEN of each
    queue's list; other brokers report nothing here, see docs/deploy.md)."""

    def collect(self):
        url = settings.CELERY_BROKER_URL
        family = GaugeMetricFamily("bp_celery_queue_length", "Messages waiting in each Celery queue (broker).",
                                   labels=["queue"])
        if settings.CELERY_TASK_ALWAYS_EAGER or not url.startswith(("redis://", "rediss://")):
            yield family  # no samples: nothing is queued when tasks run in-process
            return
        error = 0.0
        try:
            client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
            try:
                pipe = client.pipeline(transaction=False)
                names = list(settings.CELERY_TASK_QUEUES)
                for name in names:
                    pipe.llen(name)
                for name, length in zip(names, pipe.execute(), strict=True):
                    family.add_metric([name], length)
            finally:
                client.close()
        except redis.RedisError:
            logger.warning("metrics: broker queue lengths unavailable", exc_info=True)
            error = 1.0
        yield family
        yield GaugeMetricFamily("bp_broker_scrape_error", "1 when the broker could not be read at this scrape.",
                                value=error)
