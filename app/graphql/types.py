"""GraphQL types: read-only views of send rows, batches and suppressions."""

from datetime import datetime
from typing import TYPE_CHECKING

import strawberry
from strawberry.types import Info

from campaign.domain.clock import from_iso
from campaign.domain.models import BatchListing, BatchRecord, OutcomeCounts, SendRow, per_sent
from campaign.domain.models import StatusCounts as DomainStatusCounts
from campaign.domain.models import Suppression as SuppressionRecord
from campaign.domain.models import SuppressionReason as DomainSuppressionReason
from campaign.domain.status import DeliveryOutcome as DomainDeliveryOutcome
from campaign.domain.status import EmailStatus as DomainEmailStatus
from campaign.domain.status import ErrorKind
from campaign.services.ingest import upload_counts

if TYPE_CHECKING:
    from app.graphql.schema import Context

EmailStatus = strawberry.enum(DomainEmailStatus, name="EmailStatus")
SuppressionReason = strawberry.enum(
    DomainSuppressionReason, name="SuppressionReason", description="Why an address is on the suppression list"
)
DeliveryOutcome = strawberry.enum(
    DomainDeliveryOutcome, name="DeliveryOutcome", description="What the mailbox provider said about a sent message"
)


@strawberry.type
class Delivery:
    outcome: DeliveryOutcome  # type: ignore[valid-type]
    at: datetime | None
    bounce_type: str | None = strawberry.field(description="For a bounce: Permanent, Transient or Undetermined")
    bounce_sub_type: str | None
    sent_after_all: bool = strawberry.field(
        description="The row is ERROR because the worker could not know whether SES accepted the message;"
        " this event shows SES did"
    )

    @classmethod
    def of(cls, row: SendRow) -> "Delivery | None":
        if row.delivery is None:
            return None
        return cls(
            outcome=row.delivery,
            at=_ses_time(row.delivery_at),
            bounce_type=row.bounce_type,
            bounce_sub_type=row.bounce_subtype,
            sent_after_all=row.status is DomainEmailStatus.ERROR and row.error_kind == ErrorKind.UNKNOWN_OUTCOME.value,
        )


def _ses_time(text: str | None) -> datetime | None:
    """SES's event time (ISO 8601, milliseconds, Z), or None if it sent none that parses."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


@strawberry.type
class EmailSend:
    send_id: str
    batch_id: str
    email: str
    subject: str
    status: EmailStatus  # type: ignore[valid-type]
    created_at: datetime
    updated_at: datetime
    attempts: int
    error: str | None
    provider: str | None = strawberry.field(
        description="The provider that took the message (ses, smtp; dry-run in a rehearsal); null until sent"
    )
    provider_message_id: str | None = strawberry.field(description="That provider's id for the message")
    resent_as: str | None = strawberry.field(description="The send a dead-letter re-drive created for this one")
    resend_of: str | None = strawberry.field(description="The send this one re-sends")
    delivery: Delivery | None = strawberry.field(
        description="What the mailbox provider said (SES delivery events), once it said it; null before"
    )
    inline_content: strawberry.Private[str | None]
    body_key: strawberry.Private[str | None]

    @strawberry.field(description="The body. A body too large to sit in its row is read only if asked for.")
    async def content(self, info: Info["Context", None]) -> str:
        if self.inline_content is not None:
            return self.inline_content
        return await info.context.bodies.load(self.body_key or "")

    @classmethod
    def from_row(cls, row: SendRow) -> "EmailSend":
        return cls(
            send_id=row.send_id,
            batch_id=row.batch_id,
            email=row.email,
            subject=row.subject,
            status=row.status,
            created_at=from_iso(row.created_at),
            updated_at=from_iso(row.updated_at),
            attempts=row.attempts,
            error=row.error,
            provider=row.provider,
            provider_message_id=row.provider_message_id,
            resent_as=row.resent_as,
            resend_of=row.resend_of,
            delivery=Delivery.of(row),
            inline_content=row.content,
            body_key=row.body_key,
        )


@strawberry.type
class EmailStatusPage:
    items: list[EmailSend]
    next_cursor: str | None


_LATEST = "Rows whose latest delivery outcome (SES event) is "


@strawberry.type
class StatusCounts:
    pending: int
    queued: int
    sent: int
    error: int
    # By delivery outcome: each row under its latest one only, so they add up to the rows SES reported on.
    delivered: int = strawberry.field(description=_LATEST + "a delivery (a complained row counts as complained)")
    bounced: int = strawberry.field(description=_LATEST + "a bounce, of any type (hard or soft)")
    complained: int = strawberry.field(description=_LATEST + "a complaint (the message had been delivered)")
    rejected: int = strawberry.field(description=_LATEST + "a rejection (SES accepted, then refused to send it)")
    delayed: int = strawberry.field(description=_LATEST + "a delay: the provider may still deliver or bounce it")
    bounce_rate: float | None = strawberry.field(
        description="bounced / sent: per message sent, as SES defines its bounce rate; null while sent is 0."
        " Counts soft bounces too, which SES's reputation bounce rate (hard bounces only) does not"
    )
    complaint_rate: float | None = strawberry.field(
        description="complained / sent: per message sent, as SES defines its complaint rate; null while sent is 0"
    )

    @classmethod
    def of(cls, listing: BatchListing | None) -> "StatusCounts":
        counts = listing.counts if listing is not None else DomainStatusCounts()
        outcomes = listing.outcomes if listing is not None else OutcomeCounts()
        return cls(
            pending=counts.pending,
            queued=counts.queued,
            sent=counts.sent,
            error=counts.error,
            delivered=outcomes.delivered,
            bounced=outcomes.bounced,
            complained=outcomes.complained,
            rejected=outcomes.rejected,
            delayed=outcomes.delayed,
            bounce_rate=per_sent(outcomes.bounced, counts.sent),
            complaint_rate=per_sent(outcomes.complained, counts.sent),
        )


@strawberry.type
class Batch:
    batch_id: str
    created_at: datetime
    state: str = strawberry.field(description="AWAITING_UPLOAD, INGESTING, DONE or FAILED")
    total: int
    enqueued: int
    skipped: int
    not_enqueued: int
    already_accepted: int = strawberry.field(description="Rows whose message an earlier upload accepted")
    rows_read: int = strawberry.field(description="Data rows processed so far (a large upload's progress)")
    error_code: str | None = strawberry.field(description="Why a FAILED upload was refused")
    error_message: str | None
    counts: StatusCounts = strawberry.field(
        description="Rows by status and by delivery outcome, with the bounce and complaint rates;"
        " kept up to date within seconds"
    )
    resent: int = strawberry.field(description="Rows an operator's dead-letter re-drive sent again as new rows")

    @classmethod
    def from_record(cls, record: BatchRecord, listing: BatchListing | None) -> "Batch":
        return cls(
            **upload_counts(record),
            created_at=from_iso(record.created_at),
            state=record.state.value,
            rows_read=record.rows_read,
            error_code=record.error_code,
            error_message=record.error_message,
            counts=StatusCounts.of(listing),
            resent=listing.resent if listing is not None else 0,
        )


@strawberry.type(description="An address no email is sent to until it is unsuppressed")
class Suppression:
    email: str = strawberry.field(description="The address as recipients are compared: normalized, lower case")
    reason: SuppressionReason  # type: ignore[valid-type]
    source: str = strawberry.field(description="Where it came from: api, an unsubscribe link, an SES event")
    at: datetime = strawberry.field(description="When the address was first suppressed")

    @classmethod
    def from_record(cls, record: SuppressionRecord) -> "Suppression":
        return cls(email=record.email, reason=record.reason, source=record.source, at=from_iso(record.at))


@strawberry.type
class SuppressionPage:
    items: list[Suppression]
    next_cursor: str | None
