"""Write-combining of single usage events: concurrent requests of one web process committed together.

Each single event is funded and stored by `_store` (services.py) in a transaction of its own: BEGIN, the lock
of the member's counters, the one ledger statement, COMMIT (a WAL flush). When several threads of one process
record single events at the same moment, the first becomes the leader and stores every event queued by then in
one transaction (each event's statements as before, one BEGIN and one COMMIT for all); the others wait, and each
is answered only after that commit, so a 2xx still means durably recorded. While the leader's transaction runs,
newcomers queue; when it ends, the first of them leads the next group. Nobody waits on a timer: a lone request
is stored at once, exactly as before.

Exactly once is the database's, as before: the group's transaction either commits every event in it or none.
Keys already stored are looked up first (one statement for the group) and those events are handed back to
their own request, which answers them as replays or conflicts; when anything else fails in the group (a key
stored by another process in between, a deadlock, a lost connection), the whole transaction rolls back and
every request of the group records its event alone, as if it had never been combined. Locks are taken in one
order (organization, then membership), as a batch takes them, so groups of different processes do not
deadlock each other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import IntegrityError, transaction

from apps.common.sql import server_bound_fetchall
from apps.usage.models import UsageEventKey

_KEYS_TAKEN = (
    f'SELECT organization_id, idempotency_key FROM "{UsageEventKey._meta.db_table}" '
    "WHERE (organization_id, idempotency_key) IN "
    "(SELECT * FROM unnest(%(organizations)s::bigint[], %(keys)s::text[]))"
)


class Regroup(IntegrityError):
    """Raised to a request whose event was not stored by its group: record it alone (and look its key up)."""


class _Job:
    __slots__ = ("organization", "pending", "now", "wake", "finished", "error")

    def __init__(self, organization, pending, now):
        self.organization, self.pending, self.now = organization, pending, now
        self.wake = threading.Event()
        self.finished = False
        self.error: BaseException | None = None

    @property
    def keys(self) -> list[tuple[int, str]]:
        return [(self.organization.pk, p.item.idempotency_key) for p in self.pending]

    @property
    def lock_order(self) -> tuple:
        return (self.organization.pk, min(p.found.membership.pk for p in self.pending))


class StoreCombiner:
    """`store(organization, pending, now)` runs `store_alone` (its own transaction) for a lone request, or, for
    concurrent ones, `store_in_transaction` for each inside one transaction; see the module docstring. Counts
    what it did in `groups` and `combined` (events stored by groups of more than one)."""

    def __init__(self, *, store_alone: Callable, store_in_transaction: Callable):
        self._store_alone = store_alone
        self._store_in_transaction = store_in_transaction
        self._lock = threading.Lock()
        self._queue: list[_Job] = []
        self._leading = False
        self.groups = 0
        self.combined = 0
        self.largest = 0

    def store(self, *, organization, pending, now) -> None:
        job = _Job(organization, pending, now)
        with self._lock:
            self._queue.append(job)
            lead = not self._leading
            self._leading = True
        if not lead:
            job.wake.wait()
            lead = not job.finished  # woken to lead the next group
        if lead:
            with self._lock:
                group, self._queue = self._queue, []
            try:
                self._run(group)
            finally:
                with self._lock:
                    if self._queue:
                        self._queue[0].wake.set()  # the next group's leader
                    else:
                        self._leading = False
        if job.error is not None:
            raise job.error

    def _run(self, group: list[_Job]) -> None:
        try:
            if len(group) == 1:
                job = group[0]
                try:
                    self._store_alone(organization=job.organization, pending=job.pending, now=job.now,
                                      look_up_keys=False)
                except BaseException as exc:  # the request's own error, raised in its own thread
                    job.error = exc
                return
            self._run_together(group)
        finally:
            for job in group:
                job.finished = True
                job.wake.set()

    def _run_together(self, group: list[_Job]) -> None:
        keys = [key for job in group for key in job.keys]
        together = group
        try:
            taken = {(org, key) for org, key in server_bound_fetchall(
                _KEYS_TAKEN, {"organizations": [k[0] for k in keys], "keys": [k[1] for k in keys]}, prepare=True)}
            seen: set[tuple[int, str]] = set()
            together = []
            for job in sorted(group, key=lambda j: j.lock_order):
                if taken.intersection(job.keys) or seen.intersection(job.keys):
                    job.error = Regroup("idempotency key already used")  # answered alone as a replay/conflict
                    continue
                seen.update(job.keys)
                together.append(job)
            with transaction.atomic():
                for job in together:
                    self._store_in_transaction(organization=job.organization, pending=job.pending, now=job.now,
                                               look_up_keys=False)
        except Exception:
            # Nothing of the group was committed: each request records its event alone.
            for job in together:
                job.error = Regroup("the combined transaction did not commit")
            return
        with self._lock:
            self.groups += 1
            self.combined += len(together)
            self.largest = max(self.largest, len(together))
