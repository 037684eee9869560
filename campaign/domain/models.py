"""The records the service stores and reports, as plain data."""

from dataclasses import dataclass, field
from enum import StrEnum

from campaign.domain.status import EmailStatus


@dataclass(frozen=True, slots=True)
class SendRow:
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


@dataclass(frozen=True, slots=True)
class SkippedRowReport:
    row: int
    email: str
    reason: str


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """What one upload produced; stored so that a re-upload can answer with the same summary."""

    batch_id: str
    created_at: str
    state: BatchState
    total: int
    skipped: int
    enqueued: int = 0
    not_enqueued: int = 0
    skipped_rows: list[SkippedRowReport] = field(default_factory=list)
    lease_until: str | None = None
    # Data rows whose outcome is recorded (a streaming ingest resumes after them).
    rows_read: int = 0
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class StatusCounts:
    pending: int
    queued: int
    sent: int
    error: int
