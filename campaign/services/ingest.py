"""The upload use case: one CSV file becomes one batch, each accepted row one queued send.

Order matters for exactly-once sending. A row is written only after its message is on the queue
(QUEUED) or finally refused (PENDING, with the reason), so the only writes that cannot carry a
condition (BatchWriteItem) create rows that no worker can have touched yet: a worker that receives a
message before its row exists retries later. A batch lease keeps a resumed ingest from racing the
original one.
"""

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from campaign.aws.batches import Batches, ExistingBatch
from campaign.aws.send_queue import SendJob, SendQueue
from campaign.aws.send_rows import SendRows
from campaign.domain.clock import from_iso, to_iso
from campaign.domain.csv_rules import CampaignRow, ParsedCsv, parse_campaign_csv
from campaign.domain.ids import batch_id_for, send_id_for
from campaign.domain.models import BatchRecord, BatchState, SendRow, SkippedRowReport
from campaign.domain.status import FINAL_STATUSES, EmailStatus
from campaign.limits import DYNAMODB_BATCH_WRITE_MAX, INGEST_LEASE_SECONDS, SKIPPED_ROWS_CAP

# Rows handled per step: four BatchWriteItem calls' worth, sent as ten SendMessageBatch calls.
_STEP_ROWS = 4 * DYNAMODB_BATCH_WRITE_MAX


@dataclass(frozen=True, slots=True)
class UploadResult:
    batch_id: str
    total: int
    enqueued: int
    skipped: int
    not_enqueued: int
    duplicate: bool
    skipped_rows: list[SkippedRowReport] = field(default_factory=list)

    @property
    def created(self) -> bool:
        return not self.duplicate


@dataclass(frozen=True, slots=True)
class IngestGateways:
    batches: Batches
    rows: SendRows
    queue: SendQueue


def ingest_csv(content: bytes, gateways: IngestGateways) -> UploadResult:
    """Parse (raising CsvFileError before any write), claim the batch, then queue and record rows."""
    parsed = parse_campaign_csv(content)
    now = datetime.now(UTC)
    batch = _new_batch_record(batch_id_for(content), parsed, now)
    claim = gateways.batches.claim(batch)
    resuming = False
    if isinstance(claim, ExistingBatch):
        batch = claim.batch
        if not _lease_lapsed(batch, now) or not gateways.batches.take_over(batch, _lease_until(now)):
            return _duplicate_answer(batch)
        resuming = True
    rows = [_send_row(batch, row) for row in parsed.rows]
    enqueued, not_enqueued = _queue_and_record(rows, gateways, resuming=resuming)
    gateways.batches.finish(batch.batch_id, enqueued=enqueued, not_enqueued=not_enqueued)
    return UploadResult(
        batch_id=batch.batch_id,
        total=batch.total,
        enqueued=enqueued,
        skipped=batch.skipped,
        not_enqueued=not_enqueued,
        duplicate=resuming,
        skipped_rows=batch.skipped_rows,
    )


def _queue_and_record(rows: list[SendRow], gateways: IngestGateways, *, resuming: bool) -> tuple[int, int]:
    enqueued = not_enqueued = 0
    for start in range(0, len(rows), _STEP_ROWS):
        step = rows[start : start + _STEP_ROWS]
        existing = gateways.rows.existing([row.send_id for row in step]) if resuming else {}
        to_send = [
            row for row in step if row.send_id not in existing or existing[row.send_id].status not in FINAL_STATUSES
        ]
        refused = gateways.queue.enqueue([SendJob(row.send_id, row.batch_id) for row in to_send])
        gateways.rows.create(
            [_with_enqueue_outcome(row, refused.get(row.send_id)) for row in to_send if row.send_id not in existing]
        )
        not_enqueued += len(refused)
        enqueued += len(to_send) - len(refused)
    return enqueued, not_enqueued


def _with_enqueue_outcome(row: SendRow, refusal: str | None) -> SendRow:
    if refusal is None:
        return row
    return replace(row, status=EmailStatus.PENDING, error=f"not enqueued: {refusal}")


def _send_row(batch: BatchRecord, row: CampaignRow) -> SendRow:
    return SendRow(
        send_id=send_id_for(batch.batch_id, row.email_key),
        batch_id=batch.batch_id,
        email=row.email,
        subject=row.subject,
        content=row.content,
        status=EmailStatus.QUEUED,
        # One timestamp per batch keeps a resumed ingest's rows identical to the original's.
        created_at=batch.created_at,
        updated_at=batch.created_at,
    )


def _new_batch_record(batch_id: str, parsed: ParsedCsv, now: datetime) -> BatchRecord:
    return BatchRecord(
        batch_id=batch_id,
        created_at=to_iso(now),
        state=BatchState.INGESTING,
        total=parsed.total,
        skipped=len(parsed.skipped),
        skipped_rows=[
            SkippedRowReport(row=s.line, email=s.email, reason=s.reason.value)
            for s in parsed.skipped[:SKIPPED_ROWS_CAP]
        ],
        lease_until=_lease_until(now),
    )


def _lease_until(now: datetime) -> str:
    return to_iso(now + timedelta(seconds=INGEST_LEASE_SECONDS))


def _lease_lapsed(batch: BatchRecord, now: datetime) -> bool:
    return batch.state is BatchState.INGESTING and batch.lease_until is not None and from_iso(batch.lease_until) < now


def _duplicate_answer(batch: BatchRecord) -> UploadResult:
    return UploadResult(
        batch_id=batch.batch_id,
        total=batch.total,
        enqueued=0,
        skipped=batch.skipped,
        not_enqueued=0,
        duplicate=True,
        skipped_rows=batch.skipped_rows,
    )
