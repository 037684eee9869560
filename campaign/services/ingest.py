"""The upload use case: one CSV file becomes one batch, each accepted row one queued send.

Order matters for exactly-once sending. A row is written only after its message is on the queue
(QUEUED) or finally refused (PENDING, with the reason), so the only writes that cannot carry a
condition (BatchWriteItem) create rows that no worker can have touched yet: a worker that receives a
message before its row exists retries later. A batch lease keeps a resumed ingest from racing the
original one.
"""

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from campaign.aws.batches import Batches, ExistingBatch
from campaign.aws.send_queue import SendJob, SendQueue
from campaign.aws.send_rows import SendRows
from campaign.domain.clock import from_iso, to_iso
from campaign.domain.csv_rules import CampaignRow, ParsedCsv, parse_campaign_csv
from campaign.domain.ids import batch_id_for, send_id_for
from campaign.domain.models import STARTABLE_STATES, BatchRecord, BatchState, SendRow, SkippedRowReport
from campaign.domain.status import FINAL_STATUSES, EmailStatus
from campaign.limits import DYNAMODB_BATCH_WRITE_MAX, INGEST_CONCURRENCY, INGEST_LEASE_SECONDS, SKIPPED_ROWS_CAP
from campaign.observability import (
    DIMENSION_REASON,
    METRIC_DUPLICATE_UPLOADS,
    METRIC_INGEST_DURATION,
    METRIC_ROWS_ACCEPTED,
    METRIC_ROWS_NOT_ENQUEUED,
    METRIC_ROWS_SKIPPED,
    logger,
    metrics,
)

# Rows handled per step: four BatchWriteItem calls' worth, sent as ten SendMessageBatch calls.
_STEP_ROWS = 4 * DYNAMODB_BATCH_WRITE_MAX


class UploadResult(NamedTuple):
    batch_id: str
    total: int
    enqueued: int
    skipped: int
    not_enqueued: int
    duplicate: bool
    skipped_rows: tuple[SkippedRowReport, ...]
    skipped_by_reason: dict[str, int]

    @property
    def created(self) -> bool:
        return not self.duplicate


class IngestGateways(NamedTuple):
    batches: Batches
    rows: SendRows
    queue: SendQueue


def ingest_csv(content: bytes, gateways: IngestGateways) -> UploadResult:
    """Parse (raising CsvFileError before any write), claim the batch, then queue and record rows."""
    started = time.perf_counter()
    result = _ingest(content, gateways)
    logger.append_keys(batchId=result.batch_id)
    _record_metrics(result, time.perf_counter() - started)
    logger.info(
        "upload ingested",
        extra={k: v for k, v in result._asdict().items() if k not in ("skipped_rows", "batch_id")},
    )
    return result


def _record_metrics(result: UploadResult, seconds: float) -> None:
    if result.duplicate and result.enqueued == 0:
        metrics.add_metric(name=METRIC_DUPLICATE_UPLOADS, unit=MetricUnit.Count, value=1)
        return
    record_ingest_metrics(
        accepted=result.enqueued + result.not_enqueued,
        not_enqueued=result.not_enqueued,
        skipped_by_reason=result.skipped_by_reason,
        seconds=seconds,
    )


def record_ingest_metrics(
    *, accepted: int, not_enqueued: int, skipped_by_reason: dict[str, int], seconds: float
) -> None:
    metrics.add_metric(name=METRIC_ROWS_ACCEPTED, unit=MetricUnit.Count, value=accepted)
    metrics.add_metric(name=METRIC_ROWS_NOT_ENQUEUED, unit=MetricUnit.Count, value=not_enqueued)
    metrics.add_metric(name=METRIC_INGEST_DURATION, unit=MetricUnit.Milliseconds, value=seconds * 1000)
    # One data point per skip reason, as its own dimension (the listed rows are capped; counts are not).
    for reason, count in skipped_by_reason.items():
        with single_metric(
            name=METRIC_ROWS_SKIPPED, unit=MetricUnit.Count, value=count, namespace=metrics.namespace
        ) as m:
            m.add_dimension(name=DIMENSION_REASON, value=reason)


def _ingest(content: bytes, gateways: IngestGateways) -> UploadResult:
    parsed = parse_campaign_csv(content)
    now = datetime.now(UTC)
    batch = _new_batch_record(batch_id_for(content), parsed, now)
    claim = gateways.batches.claim(batch)
    resuming = False
    if isinstance(claim, ExistingBatch):
        existing = claim.batch
        # The existing record's creation time names the rows, so every path writes identical rows.
        batch = batch._replace(created_at=existing.created_at)
        if existing.state in STARTABLE_STATES:
            if not gateways.batches.start(batch, previous=existing.state):
                return _duplicate_answer(existing)
        elif lease_lapsed(existing, now) and gateways.batches.take_over(existing, batch.lease_until or ""):
            resuming = True
        else:
            return _duplicate_answer(existing)
    rows = [send_row_for(batch, row) for row in parsed.rows]
    enqueued, not_enqueued = queue_and_record(rows, gateways, resuming=resuming)
    gateways.batches.finish(batch._replace(enqueued=enqueued, not_enqueued=not_enqueued, rows_read=batch.total))
    return UploadResult(
        batch_id=batch.batch_id,
        total=batch.total,
        enqueued=enqueued,
        skipped=batch.skipped,
        not_enqueued=not_enqueued,
        duplicate=resuming,
        skipped_rows=batch.skipped_rows,
        skipped_by_reason=dict(Counter(s.reason.value for s in parsed.skipped)),
    )


def queue_and_record(rows: list[SendRow], gateways: IngestGateways, *, resuming: bool) -> tuple[int, int]:
    """Run the steps on a bounded pool: they touch disjoint rows, so their order does not matter, and
    overlapping their AWS round trips is what keeps a large file inside the API's time limit."""
    steps = [rows[start : start + _STEP_ROWS] for start in range(0, len(rows), _STEP_ROWS)]
    with ThreadPoolExecutor(max_workers=INGEST_CONCURRENCY, thread_name_prefix="ingest") as pool:
        outcomes = list(pool.map(lambda step: _queue_and_record_step(step, gateways, resuming=resuming), steps))
    return sum(e for e, _ in outcomes), sum(n for _, n in outcomes)


def _queue_and_record_step(step: list[SendRow], gateways: IngestGateways, *, resuming: bool) -> tuple[int, int]:
    """Send the step's messages, then create its rows (never the other way round: see the module doc)."""
    existing = gateways.rows.existing([row.send_id for row in step]) if resuming else {}
    to_send = [row for row in step if row.send_id not in existing or existing[row.send_id].status not in FINAL_STATUSES]
    refused = gateways.queue.enqueue([SendJob(row.send_id, row.batch_id) for row in to_send])
    gateways.rows.create(
        [_with_enqueue_outcome(row, refused.get(row.send_id)) for row in to_send if row.send_id not in existing]
    )
    # A row found final was queued by the run that wrote it: it counts as enqueued, so that a resumed
    # batch's totals describe the whole batch (total = enqueued + skipped + not_enqueued).
    return len(step) - len(refused), len(refused)


def _with_enqueue_outcome(row: SendRow, refusal: str | None) -> SendRow:
    if refusal is None:
        return row
    return row._replace(status=EmailStatus.PENDING, error=f"not enqueued: {refusal}")


def send_row_for(batch: BatchRecord, row: CampaignRow) -> SendRow:
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
        skipped_rows=tuple(
            SkippedRowReport(row=s.line, email=s.email, reason=s.reason.value)
            for s in parsed.skipped[:SKIPPED_ROWS_CAP]
        ),
        lease_until=lease_until_from(now),
    )


def lease_until_from(now: datetime) -> str:
    return to_iso(now + timedelta(seconds=INGEST_LEASE_SECONDS))


def lease_lapsed(batch: BatchRecord, now: datetime) -> bool:
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
        skipped_by_reason={},
    )
