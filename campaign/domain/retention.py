"""How long things are kept and count: every item for the retention period, after which DynamoDB's
time to live deletes it for free (within a couple of days: readers compare times with the clock
rather than trust absence); a message key blocks a second send of its message for the deduplication
window only. Keys are kept as long as rows because a key may hold its row's body."""

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from campaign.domain.clock import from_iso


class Retention(NamedTuple):
    dedupe_window_days: int
    retention_days: int

    def expiry_of(self, created_at: str) -> int:
        """Epoch seconds when a row, body or batch created at `created_at` expires."""
        return int((from_iso(created_at) + timedelta(days=self.retention_days)).timestamp())

    def accepted_until(self, accepted: datetime) -> int:
        """Epoch seconds when a message key accepted at `accepted` stops blocking a second send."""
        return int((accepted + timedelta(days=self.dedupe_window_days)).timestamp())


def epoch_now() -> int:
    return int(datetime.now(UTC).timestamp())


def validate(retention: Retention) -> str | None:
    """Why a pair of settings is unusable, or None. A key blocking a send after the rows it points at
    expired would name a batch that no longer exists."""
    if retention.dedupe_window_days < 1 or retention.retention_days < 1:
        return "the deduplication window and the retention must each be at least one day"
    if retention.dedupe_window_days > retention.retention_days:
        return "the deduplication window cannot be longer than the retention"
    return None
