"""The upload use case: one CSV file becomes one batch, each new message one queued send.

A row whose recipient is on the suppression list is skipped (reason `suppressed`) before anything is
written for it: it takes no message key, so the same message may be sent once the address is removed
from the list. A row is sent once per message, not once per file: its message key (recipient, subject, content) is
taken first, with a conditional write that only one upload can win; a row whose key an earlier upload
holds is reported, with that upload's batch, and not queued. A body too large for its row and
carried by no other row of the ingest is written with the key, in the same transaction. Then, for
the rows this upload holds: bodies several rows share are stored once, messages are queued, and only
then are rows written, QUEUED or finally refused (PENDING, with the reason). So the writes that cannot carry a condition
(BatchWriteItem) create rows that no worker can have touched yet: a worker that receives a message
before its row exists retries later. A batch lease keeps a resumed ingest from racing the original.
"""

import json
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import NamedTuple, Protocol, TypedDict

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from campaign.aws.batch_counts import BatchCounts
from campaign.aws.batches import Batches, ExistingBatch
from campaign.aws.bodies import Bodies
from campaign.aws.items import item_size, send_row_item
from campaign.aws.message_keys import KeyClaim, MessageKeys
from campaign.aws.send_queue import SendJob, SendQueue
from campaign.aws.send_rows import SendRows
from campaign.aws.suppressions import Suppressions
from campaign.aws.table_schema import body_pk, message_pk
from campaign.domain.addresses import recipient_key
from campaign.domain.clock import to_iso
from campaign.domain.csv_rules import CampaignRow, ParsedCsv, SkippedRow, SkipReason, parse_campaign_csv
from campaign.domain.histogram import bucket_of
from campaign.domain.ids import batch_id_for, body_key_for, message_key_for, send_id_for
from campaign.domain.models import (
    STARTABLE_STATES,
    AcceptedElsewhereReport,
    BatchRecord,
    BatchState,
    SendRow,
    SkippedRowReport,
)
from campaign.domain.reports import accepted_elsewhere_report, in_file_order, skipped_report
from campaign.domain.retention import Retention
from campaign.domain.status import FINAL_STATUSES, EmailStatus
from campaign.limits import (
    DYNAMODB_BATCH_WRITE_MAX,
    INGEST_CONCURRENCY,
    INGEST_LEASE_SECONDS,
    SKIPPED_ROWS_CAP,
    WRITE_UNIT_BYTES,
)
from campaign.observability import (
    DIMENSION_REASON,
    METRIC_DUPLICATE_UPLOADS,
    METRIC_INGEST_DURATION,
    METRIC_ROWS_ACCEPTED,
    METRIC_ROWS_ALREADY_ACCEPTED,
    METRIC_ROWS_NOT_ENQUEUED,
    METRIC_ROWS_SKIPPED,
    logger,
    metrics,
)
from campaign.services.lease import (
    IngestInProgressError,
    Lease,
    LeaseLostError,
    lease_lapsed,
    lease_until_from,
    seconds_until_lapse,
)

# Rows handled per step: one suppression-list BatchGetItem, four BatchWriteItem calls' worth, one
# message-key transaction, ten SendMessageBatch calls.
_STEP_ROWS = 4 * DYNAMODB_BATCH_WRITE_MAX


class UploadResult(NamedTuple):
    batch_id: str
    total: int
    enqueued: int
    skipped: int
    not_enqueued: int
    already_accepted: int
    duplicate: bool
    skipped_rows: tuple[SkippedRowReport, ...]
    already_accepted_rows: tuple[AcceptedElsewhereReport, ...]
    skipped_by_reason: dict[str, int]
    # A duplicate that finished an ingest which had died mid-file (it queued the rows left over).
    resumed: bool = False

    @property
    def created(self) -> bool:
        return not self.duplicate


class UploadCounts(TypedDict):
    """The counts every summary of an upload reports: POST /upload, GET /uploads/{id}, GraphQL's batch."""

    batch_id: str
    total: int
    enqueued: int
    skipped: int
    not_enqueued: int
    already_accepted: int


def upload_counts(upload: BatchRecord | UploadResult) -> UploadCounts:
    """The one mapping of a stored batch (or a fresh ingest's result) to the counts its summaries share."""
    return UploadCounts(
        batch_id=upload.batch_id,
        total=upload.total,
        enqueued=upload.enqueued,
        skipped=upload.skipped,
        not_enqueued=upload.not_enqueued,
        already_accepted=upload.already_accepted,
    )


class IngestGateways(NamedTuple):
    batches: Batches
    rows: SendRows
    queue: SendQueue
    keys: MessageKeys
    bodies: Bodies
    counts: BatchCounts
    retention: Retention
    suppressions: Suppressions


def ingest_gateways_for(
    table_name: str, queue_url: str, enqueue_delay_seconds: int, retention: Retention
) -> IngestGateways:
    """The gateways both ingests (direct and streamed) write through."""
    return IngestGateways(
        batches=Batches(table_name, retention),
        rows=SendRows(table_name),
        queue=SendQueue(queue_url, enqueue_delay_seconds),
        keys=MessageKeys(table_name, retention),
        bodies=Bodies(table_name),
        counts=BatchCounts(table_name, retention),
        retention=retention,
        suppressions=Suppressions(table_name),
    )


class IngestSettings(Protocol):
    """What the ingest's gateways are built from: the API's settings and the streaming ingest's both fit."""

    @property
    def table_name(self) -> str: ...
    @property
    def queue_url(self) -> str: ...
    @property
    def enqueue_delay_seconds(self) -> int: ...
    @property
    def retention(self) -> Retention: ...


def ingest_gateways_from(settings: IngestSettings) -> IngestGateways:
    """The gateways a Lambda's ingest writes through, from its settings."""
    return ingest_gateways_for(
        settings.table_name, settings.queue_url, settings.enqueue_delay_seconds, settings.retention
    )


class Candidate(NamedTuple):
    """An accepted CSV row, ready to become a send if this upload wins its message key. `body` is
    the content when it is too large to sit in the row (stored apart, in the item `row.body_key`
    names: see `place_bodies`)."""

    row: SendRow
    line: int
    message_key: str
    body: str | None

    @property
    def body_with_key(self) -> bool:
        return self.body is not None and self.row.body_key == message_pk(self.message_key)


class QueueOutcome(NamedTuple):
    """What queueing some candidates did: sends queued (or found already done by an earlier run of
    this ingest), sends SQS refused, rows an earlier upload had accepted, and rows skipped because
    their recipient is suppressed (`suppressed`, the first of them in `suppressed_rows`)."""

    enqueued: int
    not_enqueued: int
    already_accepted: int
    already_accepted_rows: tuple[AcceptedElsewhereReport, ...]
    suppressed: int = 0
    suppressed_rows: tuple[SkippedRowReport, ...] = ()

    def plus(self, other: "QueueOutcome") -> "QueueOutcome":
        return QueueOutcome(
            self.enqueued + other.enqueued,
            self.not_enqueued + other.not_enqueued,
            self.already_accepted + other.already_accepted,
            (self.already_accepted_rows + other.already_accepted_rows)[:SKIPPED_ROWS_CAP],
            self.suppressed + other.suppressed,
            (self.suppressed_rows + other.suppressed_rows)[:SKIPPED_ROWS_CAP],
        )


NOTHING_QUEUED = QueueOutcome(0, 0, 0, ())


def ingest_csv(content: bytes, gateways: IngestGateways) -> UploadResult:
    """Parse (raising CsvFileError before any write), claim the batch, then queue and record rows."""
    started = time.perf_counter()
    result = _ingest(content, gateways)
    logger.append_keys(batchId=result.batch_id)
    _record_metrics(result, time.perf_counter() - started)
    logger.info(
        "upload ingested",
        extra={
            k: v for k, v in result._asdict().items() if k not in ("skipped_rows", "already_accepted_rows", "batch_id")
        },
    )
    return result


def _record_metrics(result: UploadResult, seconds: float) -> None:
    if result.duplicate and not result.resumed:
        metrics.add_metric(name=METRIC_DUPLICATE_UPLOADS, unit=MetricUnit.Count, value=1)
        return
    record_ingest_metrics(
        accepted=result.enqueued + result.not_enqueued,
        not_enqueued=result.not_enqueued,
        already_accepted=result.already_accepted,
        skipped_by_reason=result.skipped_by_reason,
        seconds=seconds,
    )


def record_ingest_metrics(
    *, accepted: int, not_enqueued: int, already_accepted: int, skipped_by_reason: dict[str, int], seconds: float
) -> None:
    metrics.add_metric(name=METRIC_ROWS_ACCEPTED, unit=MetricUnit.Count, value=accepted)
    metrics.add_metric(name=METRIC_ROWS_NOT_ENQUEUED, unit=MetricUnit.Count, value=not_enqueued)
    metrics.add_metric(name=METRIC_ROWS_ALREADY_ACCEPTED, unit=MetricUnit.Count, value=already_accepted)
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
                return _answer_for_the_holder(batch.batch_id, gateways)
        elif lease_lapsed(existing, now):
            if not gateways.batches.take_over(existing, batch.lease_until or ""):
                return _answer_for_the_holder(batch.batch_id, gateways)
            resuming = True
        elif existing.state is BatchState.INGESTING:
            raise IngestInProgressError(batch.batch_id, seconds_until_lapse(existing, now))
        else:
            return _duplicate_answer(existing)
    gateways.counts.start(batch.batch_id, batch.created_at, positions=batch.total)
    candidates = [candidate_for(batch, row) for row in parsed.rows]
    lease = Lease(gateways.batches, batch.batch_id, batch.lease_until or "")
    try:
        outcome = queue_and_record(candidates, gateways, resuming=resuming, lease=lease)
    except LeaseLostError as exc:
        raise IngestInProgressError(batch.batch_id, INGEST_LEASE_SECONDS) from exc
    finished = batch._replace(
        enqueued=outcome.enqueued,
        not_enqueued=outcome.not_enqueued,
        already_accepted=outcome.already_accepted,
        already_accepted_rows=outcome.already_accepted_rows,
        skipped=batch.skipped + outcome.suppressed,
        skipped_rows=in_file_order(batch.skipped_rows, outcome.suppressed_rows),
        rows_read=batch.total,
    )
    finish_batch(finished, gateways)
    skipped_by_reason = Counter(s.reason.value for s in parsed.skipped)
    if outcome.suppressed:
        skipped_by_reason[SkipReason.SUPPRESSED.value] += outcome.suppressed
    return UploadResult(
        **upload_counts(finished),
        duplicate=resuming,
        skipped_rows=finished.skipped_rows,
        already_accepted_rows=finished.already_accepted_rows,
        skipped_by_reason=dict(skipped_by_reason),
        resumed=resuming,
    )


def _answer_for_the_holder(batch_id: str, gateways: IngestGateways) -> UploadResult:
    """Another request started or took over the batch a moment ago: its summary if it is done, else
    a wait (never a success that hides unfinished work)."""
    now = datetime.now(UTC)
    holder = gateways.batches.get(batch_id)
    if holder is None or holder.state is not BatchState.DONE:
        retry = seconds_until_lapse(holder, now) if holder is not None else INGEST_LEASE_SECONDS
        raise IngestInProgressError(batch_id, retry)
    return _duplicate_answer(holder)


def finish_batch(batch: BatchRecord, gateways: IngestGateways) -> None:
    gateways.batches.finish(batch)
    if batch.enqueued + batch.not_enqueued == 0:
        gateways.counts.leave_index(batch.batch_id)


class _BodyLedger:
    """The bodies this ingest has stored: a body shared by many rows is written once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stored: set[str] = set()

    def take_new(self, bodies: dict[str, str]) -> dict[str, str]:
        with self._lock:
            new = {key: body for key, body in bodies.items() if key not in self._stored}
            self._stored.update(new)
        return new


def queue_and_record(
    candidates: Sequence[Candidate], gateways: IngestGateways, *, resuming: bool, lease: Lease | None = None
) -> QueueOutcome:
    """Run the steps on a bounded pool: they touch disjoint rows and keys, so their order does not
    matter, and overlapping their AWS round trips is what keeps a large file inside the API's time limit.
    After each step the lease (if given) is kept alive; a lost lease stops the steps not yet begun."""
    placed = place_bodies(candidates)
    steps = [placed[start : start + _STEP_ROWS] for start in range(0, len(placed), _STEP_ROWS)]
    ledger = _BodyLedger()

    def run(step: Sequence[Candidate]) -> QueueOutcome:
        outcome = _queue_and_record_step(step, gateways, ledger, resuming)
        if lease is not None:
            lease.keep()
        return outcome

    with ThreadPoolExecutor(max_workers=INGEST_CONCURRENCY, thread_name_prefix="ingest") as pool:
        outcomes = list(pool.map(run, steps))
    total = NOTHING_QUEUED
    for outcome in outcomes:
        total = total.plus(outcome)
    return total


def _queue_and_record_step(
    step: Sequence[Candidate], gateways: IngestGateways, ledger: _BodyLedger, resuming: bool
) -> QueueOutcome:
    """Leave out the rows whose recipients are suppressed (one BatchGetItem), then queue the others."""
    if not step:
        return NOTHING_QUEUED
    suppressed = gateways.suppressions.suppressed([recipient_key(c.row.email) for c in step])
    if not suppressed:
        return _queue_and_record_rows(step, gateways, ledger, resuming)
    skips = tuple(
        skipped_report(SkippedRow(c.line, c.row.email, SkipReason.SUPPRESSED))
        for c in step
        if recipient_key(c.row.email) in suppressed
    )
    left = [c for c in step if recipient_key(c.row.email) not in suppressed]
    queued = _queue_and_record_rows(left, gateways, ledger, resuming) if left else NOTHING_QUEUED
    return queued._replace(suppressed=len(skips), suppressed_rows=skips[:SKIPPED_ROWS_CAP])


def _queue_and_record_rows(
    step: Sequence[Candidate], gateways: IngestGateways, ledger: _BodyLedger, resuming: bool
) -> QueueOutcome:
    """Take the rows' message keys, then store bodies and send messages for the rows this upload
    holds, then create their rows (never the other way round: see the module doc)."""
    batch_id = step[0].row.batch_id
    expires_at = gateways.retention.expiry_of(step[0].row.created_at)
    claims = [KeyClaim(c.message_key, c.row.send_id, c.body if c.body_with_key else None) for c in step]
    held = gateways.keys.claim(batch_id, claims, now=datetime.now(UTC), expires_at=expires_at)
    ours = [c for c in step if c.message_key not in held]
    elsewhere = tuple(
        accepted_elsewhere_report(c.line, c.row.email, held[c.message_key].batch_id)
        for c in step
        if c.message_key in held
    )
    existing = gateways.rows.existing([c.row.send_id for c in ours]) if resuming and ours else {}
    to_send = [c for c in ours if c.row.send_id not in existing or existing[c.row.send_id].status not in FINAL_STATUSES]
    shared = {c.row.body_key: c.body for c in to_send if c.body is not None and c.row.body_key and not c.body_with_key}
    bodies = ledger.take_new(shared)
    if bodies:
        gateways.bodies.put(bodies, expires_at)
    refused = gateways.queue.enqueue([SendJob(c.row.send_id, c.row.batch_id) for c in to_send])
    gateways.rows.create(
        [_with_enqueue_outcome(c.row, refused.get(c.row.send_id)) for c in to_send if c.row.send_id not in existing],
        expires_at,
    )
    # A row found final was queued by the run that wrote it: it counts as enqueued, so that a resumed
    # batch's totals describe the whole batch.
    return QueueOutcome(len(ours) - len(refused), len(refused), len(elsewhere), elsewhere[:SKIPPED_ROWS_CAP])


def _with_enqueue_outcome(row: SendRow, refusal: str | None) -> SendRow:
    if refusal is None:
        return row
    return row._replace(status=EmailStatus.PENDING, error=f"not enqueued: {refusal}")


def candidate_for(batch: BatchRecord, row: CampaignRow) -> Candidate:
    """The send a CSV row becomes. Its body sits in the row when the row stays within one write unit
    (status changes then write one unit), and is stored apart otherwise."""
    send = SendRow(
        send_id=send_id_for(batch.batch_id, row.email_key),
        batch_id=batch.batch_id,
        seq=row.seq,
        email=row.email,
        subject=row.subject,
        status=EmailStatus.QUEUED,
        # One timestamp per batch keeps a resumed ingest's rows identical to the original's.
        created_at=batch.created_at,
        updated_at=batch.created_at,
        content=row.content,
        content_json_bytes=len(json.dumps(row.content)),
        bucket=bucket_of(row.seq, batch.total),
    )
    key = message_key_for(row.email_key, row.subject, row.content)
    # The row as the worker leaves it (an error and a provider id added): it must still fit.
    largest = send._replace(
        status=EmailStatus.ERROR, error="x" * 200, provider_message_id="x" * 60, claimed_at=batch.created_at
    )
    if item_size(send_row_item(largest, expires_at=0)) <= WRITE_UNIT_BYTES:
        return Candidate(send, row.line, key, body=None)
    return Candidate(send._replace(content=None), row.line, key, body=row.content)


def place_bodies(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Where each body too large for its row is stored. A body no other candidate carries goes with
    the row's message key: written in the key's transaction write, it saves one BatchWriteItem per
    25 rows and, up to 2 KB, costs no more write units than an item of its own. A body several rows
    carry is stored once, in a body item they share."""
    carriers = Counter(c.body for c in candidates if c.body is not None)
    return [
        c
        if c.body is None
        else c._replace(
            row=c.row._replace(
                body_key=message_pk(c.message_key)
                if carriers[c.body] == 1
                else body_pk(body_key_for(c.row.batch_id, c.body))
            )
        )
        for c in candidates
    ]


def _new_batch_record(batch_id: str, parsed: ParsedCsv, now: datetime) -> BatchRecord:
    return BatchRecord(
        batch_id=batch_id,
        created_at=to_iso(now),
        state=BatchState.INGESTING,
        total=parsed.total,
        skipped=len(parsed.skipped),
        skipped_rows=tuple(skipped_report(s) for s in parsed.skipped[:SKIPPED_ROWS_CAP]),
        lease_until=lease_until_from(now),
    )


def _duplicate_answer(batch: BatchRecord) -> UploadResult:
    """The first upload's summary, marked as a duplicate (nothing was queued by this request)."""
    return UploadResult(
        **upload_counts(batch),
        duplicate=True,
        skipped_rows=batch.skipped_rows,
        already_accepted_rows=batch.already_accepted_rows,
        skipped_by_reason={},
    )
