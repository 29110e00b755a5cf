"""Usage tasks: the ledger's monthly partitions. Safe to run twice (and at once: an advisory lock serializes)."""

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .partitions import ledger_is_partitioned, ledger_partitions_ensure


@shared_task(acks_late=True)
def usage_partitions_ensure() -> list[str]:
    """Beat task (daily): create the event ledger's partitions for the current month and the next
    USAGE_PARTITION_MONTHS_AHEAD months, and move any event the default partition caught into its own month's
    partition. Returns the partitions created (usually none)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if not ledger_is_partitioned(cursor):
            return []
        return ledger_partitions_ensure(cursor, today=timezone.now().date(),
                                        months_ahead=settings.USAGE_PARTITION_MONTHS_AHEAD)
