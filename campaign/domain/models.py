"""The records the service stores and reports, as plain data."""

from enum import StrEnum
from typing import NamedTuple

from campaign.domain.status import DeliveryOutcome, EmailStatus


class SendRow(NamedTuple):
    """One recipient of one batch: the unit that is queued, sent once, and listed.

    `seq` is the row's position in its batch (the data record's ordinal in the file; a resend comes
    after the file's records), which orders listings. The body is either `content` (inline, when the
    whole row fits one write unit) or stored apart, in the item whose table key `body_key` holds
    (opaque here: the storage layer chooses it); `content_json_bytes` is its size as a JSON string,
    so a listing can size a page without reading bodies.
    """

    send_id: str
    batch_id: str
    seq: int
    email: str
    subject: str
    status: EmailStatus
    created_at: str
    updated_at: str
    content: str | None = None
    body_key: str | None = None
    content_json_bytes: int = 0
    attempts: int = 0
    error: str | None = None
    # The provider that took the message ("ses", "smtp"; "dry-run" in a rehearsal) and its id for it.
    provider: str | None = None
    provider_message_id: str | None = None
    claimed_at: str | None = None
    claims: int = 0
    error_kind: str | None = None
    resent_as: str | None = None
    resend_of: str | None = None
    # Which stretch of its batch's file the row is in (see BatchListing.histogram).
    bucket: int = 0
    # What the mailbox provider said, once SES reported it (campaign/domain/delivery.py).
    delivery: DeliveryOutcome | None = None
    delivery_at: str | None = None
    bounce_type: str | None = None
    bounce_subtype: str | None = None


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


class AcceptedElsewhereReport(NamedTuple):
    """A row whose message an earlier upload (batch `batch_id`) already accepted: not queued again."""

    row: int
    email: str
    batch_id: str


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
    already_accepted: int = 0
    already_accepted_rows: tuple[AcceptedElsewhereReport, ...] = ()
    # The size a large upload's client declared (POST /uploads); the ingest holds the object to it.
    declared_size: int | None = None


class SuppressionReason(StrEnum):
    """Why an address is on the suppression list."""

    HARD_BOUNCE = "HARD_BOUNCE"
    COMPLAINT = "COMPLAINT"
    UNSUBSCRIBED = "UNSUBSCRIBED"
    MANUAL = "MANUAL"


class Suppression(NamedTuple):
    """An address no email is sent to until it is removed from the list. `email` is the address as
    the CSV rules compare recipients (normalized, lower case); `source` says where the suppression
    came from (free text: "api", "unsubscribe link", "ses bounce <feedback id>"); `at` is when it was
    added (ISO-8601 UTC, campaign.domain.clock). A second suppression of the same address keeps the
    first one's reason, source and time."""

    email: str
    reason: SuppressionReason
    source: str
    at: str


class StatusCounts(NamedTuple):
    pending: int = 0
    queued: int = 0
    sent: int = 0
    error: int = 0

    def of(self, status: EmailStatus) -> int:
        return int(getattr(self, status.value.lower()))

    @property
    def total(self) -> int:
        return self.pending + self.queued + self.sent + self.error


class OutcomeCounts(NamedTuple):
    """A batch's rows by their latest delivery outcome (DeliveryOutcome's order): an outcome only
    moves forward, so a row counts under one outcome at most (a complained row under `complained`,
    not `delivered` too), and a row SES has said nothing about under none."""

    delayed: int = 0
    delivered: int = 0
    bounced: int = 0
    rejected: int = 0
    complained: int = 0


def per_sent(count: int, sent: int) -> float | None:
    """A rate as SES defines its bounce and complaint rates: per message sent; None before any was."""
    return count / sent if sent > 0 else None


class BatchListing(NamedTuple):
    """What a listing needs to know of a batch: where its rows sit and how many of each status there
    are. `positions` is one past the highest `seq` a row of the batch may have (the file's data
    records, then any resends). `histogram` splits the counts by stretch of the file (HISTOGRAM_BUCKETS
    equal stretches of its data records, resends in the last), so a listing knows where a campaign
    sent in file order has its SENT rows and where its QUEUED ones. The counts are kept by the stream
    consumer, so they may lag a little."""

    batch_id: str
    created_at: str
    positions: int
    counts: StatusCounts
    resent: int = 0
    histogram: tuple[StatusCounts, ...] = ()
    # The file's data records: the positions the histogram's stretches divide.
    file_positions: int = 0
    # Rows by their latest delivery outcome, kept by the same consumer.
    outcomes: OutcomeCounts = OutcomeCounts()
