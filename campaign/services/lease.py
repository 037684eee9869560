"""A batch's ingest lease, held while an ingest runs and renewed as it progresses.

The lease is what tells a retry (or a second S3 event) that a live ingest owns the batch. It must
never lapse under a live ingest: a 50,000-row direct upload can outlast it on a slow stack, and a
resumed large ingest re-reads the rows before its checkpoint, writing nothing for minutes. So the
ingest renews it whenever a third of it has passed, with a conditional write that also tells it when
another ingest took the batch over (its own was presumed dead): then it must stop writing.
"""

import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from campaign.aws.batches import Batches
from campaign.domain.clock import from_iso, to_iso
from campaign.domain.models import BatchRecord, BatchState
from campaign.limits import INGEST_LEASE_SECONDS

_RENEW_AFTER = timedelta(seconds=INGEST_LEASE_SECONDS / 3)


class LeaseLostError(RuntimeError):
    """Another ingest took the batch over: this one must stop writing."""


class IngestInProgressError(RuntimeError):
    """A live ingest holds the batch: the caller may try again once its lease could have lapsed."""

    def __init__(self, batch_id: str, retry_after_seconds: int) -> None:
        super().__init__(f"batch {batch_id} is being ingested")
        self.batch_id = batch_id
        self.retry_after_seconds = retry_after_seconds


def lease_until_from(now: datetime) -> str:
    return to_iso(now + timedelta(seconds=INGEST_LEASE_SECONDS))


def lease_lapsed(batch: BatchRecord, now: datetime) -> bool:
    return batch.state is BatchState.INGESTING and batch.lease_until is not None and from_iso(batch.lease_until) < now


def seconds_until_lapse(batch: BatchRecord, now: datetime) -> int:
    """When a retry could find the lease lapsed (at least 1 s: a Retry-After of 0 invites a busy loop)."""
    if batch.lease_until is None:
        return 1
    return max(1, math.ceil((from_iso(batch.lease_until) - now).total_seconds()))


class Lease:
    """The lease one ingest holds; `keep()` is called as work progresses, from any thread."""

    def __init__(
        self,
        batches: Batches,
        batch_id: str,
        held_until: str,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._batches = batches
        self._batch_id = batch_id
        self._held_until = held_until
        self._now = now
        self._renewed_at = now()
        self._lock = threading.Lock()

    @property
    def held_until(self) -> str:
        return self._held_until

    def keep(self) -> None:
        """Renew the lease if a third of it has passed; LeaseLostError if another ingest holds it now."""
        with self._lock:
            now = self._now()
            if now - self._renewed_at < _RENEW_AFTER:
                return
            renewed = lease_until_from(now)
            if not self._batches.renew(self._batch_id, self._held_until, renewed):
                raise LeaseLostError(f"batch {self._batch_id} was taken over by another ingest")
            self._held_until, self._renewed_at = renewed, now
