"""GraphQL types: read-only views of send rows and batches."""

from datetime import datetime

import strawberry

from campaign.domain.clock import from_iso
from campaign.domain.models import BatchRecord, SendRow
from campaign.domain.status import EmailStatus as DomainEmailStatus

EmailStatus = strawberry.enum(DomainEmailStatus, name="EmailStatus")


@strawberry.type
class EmailSend:
    send_id: str
    batch_id: str
    email: str
    subject: str
    content: str
    status: EmailStatus  # type: ignore[valid-type]
    created_at: datetime
    updated_at: datetime
    attempts: int
    error: str | None
    provider_message_id: str | None

    @classmethod
    def from_row(cls, row: SendRow) -> "EmailSend":
        return cls(
            send_id=row.send_id,
            batch_id=row.batch_id,
            email=row.email,
            subject=row.subject,
            content=row.content,
            status=row.status,
            created_at=from_iso(row.created_at),
            updated_at=from_iso(row.updated_at),
            attempts=row.attempts,
            error=row.error,
            provider_message_id=row.provider_message_id,
        )


@strawberry.type
class EmailStatusPage:
    items: list[EmailSend]
    next_cursor: str | None


@strawberry.type
class StatusCounts:
    pending: int
    queued: int
    sent: int
    error: int


@strawberry.type
class Batch:
    batch_id: str
    created_at: datetime
    state: str = strawberry.field(description="AWAITING_UPLOAD, INGESTING, DONE or FAILED")
    total: int
    enqueued: int
    skipped: int
    not_enqueued: int
    rows_read: int = strawberry.field(description="Data rows processed so far (a large upload's progress)")
    error_code: str | None = strawberry.field(description="Why a FAILED upload was refused")
    error_message: str | None
    counts: StatusCounts

    @classmethod
    def from_record(cls, record: BatchRecord, counts: StatusCounts) -> "Batch":
        return cls(
            batch_id=record.batch_id,
            created_at=from_iso(record.created_at),
            state=record.state.value,
            total=record.total,
            enqueued=record.enqueued,
            skipped=record.skipped,
            not_enqueued=record.not_enqueued,
            rows_read=record.rows_read,
            error_code=record.error_code,
            error_message=record.error_message,
            counts=counts,
        )
