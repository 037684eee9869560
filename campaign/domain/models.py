"""The records the service stores and reports, as plain data."""

from enum import StrEnum
from typing import NamedTuple

from campaign.domain.status import EmailStatus


class SendRow(NamedTuple):
    """One recipient of one batch: the unit that is queued, sent once, and listed."""

    send_id: str
    batch_id: str
    email: str
    subject: str
    content: str
    status: EmailStatus
    created_at: str
    updated_at: str
    attempts: int = 0
    error: str | None = None
    provider_message_id: str | None = None
    claimed_at: str | None = None
    error_kind: str | None = None


class BatchState(StrEnum):
    """Where an upload is. AWAITING_UPLOAD: reserved by POST /uploads, its file not yet in S3.
    FAILED: the file was refused as a whole (nothing was written for it)."""

    AWAITING_UPLOAD = "AWAITING_UPLOAD"
    INGESTING = "INGESTING"
    DONE = "DONE"
    FAILED = "FAILED"


# States from which an ingest may start afresh: no row of the batch has been written yet.
STARTABLE_STATES: frozenset[BatchState] = frozenset({BatchState.AWAITING_UPLOAD, BatchState.FAILED})


class SkippedRowReport(NamedTuple):
    row: int
    email: str
    reason: str


class BatchRecord(NamedTuple):
    """What one upload produced; stored so that a re-upload can answer with the same summary."""

    batch_id: str
    created_at: str
    state: BatchState
    total: int
    skipped: int
    enqueued: int = 0
    not_enqueued: int = 0
    skipped_rows: tuple[SkippedRowReport, ...] = ()
    lease_until: str | None = None
    # Data rows whose outcome is recorded (a streaming ingest resumes after them).
    rows_read: int = 0
    error_code: str | None = None
    error_message: str | None = None


class StatusCounts(NamedTuple):
    pending: int
    queued: int
    sent: int
    error: int
