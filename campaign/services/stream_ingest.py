"""The large-upload use case: a CSV in S3 becomes one batch, read as a stream, checkpointed.

Two passes over the object. The first checks every file-level rule and the file's hash and writes no
row, so a file refused whole leaves nothing behind (the direct path gets the same by parsing before
it writes). The second judges rows and queues them a window at a time, with `queue_and_record`, the
same steps as the direct path. After each window the batch record stores how many rows are done, the
counters and a renewed lease, all in one conditional write: an ingest that dies resumes after its last
checkpoint, and one that runs short of time hands over to a new invocation. Rows after a checkpoint
may have been written before a crash, so a resumed ingest reads them back first (as a resumed direct
upload does): no final row is queued again and no row is created twice.

Memory stays flat: one window of rows, the read buffers, and 16 bytes per recipient for duplicates.
"""

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import BinaryIO, NamedTuple, Protocol

from campaign.aws.batches import NewBatch
from campaign.aws.upload_store import UploadMissingError
from campaign.domain.clock import from_iso, to_iso
from campaign.domain.csv_rules import (
    CsvErrorCode,
    CsvFileError,
    SkippedRow,
    SkipReason,
    count_data_records,
    read_campaign_rows,
)
from campaign.domain.csv_stream import open_csv_text
from campaign.domain.models import STARTABLE_STATES, BatchRecord, BatchState
from campaign.domain.reports import in_file_order, skipped_report
from campaign.limits import (
    MAX_LARGE_UPLOAD_BYTES,
    MAX_LARGE_UPLOAD_ROWS,
    SKIPPED_ROWS_CAP,
    STREAM_CONTINUE_MARGIN_SECONDS,
    STREAM_LEASE_RENEW_RECORDS,
    STREAM_WINDOW_BYTES,
    STREAM_WINDOW_ROWS,
)
from campaign.observability import logger
from campaign.services.ingest import (
    Candidate,
    IngestGateways,
    candidate_for,
    finish_batch,
    queue_and_record,
    record_ingest_metrics,
)
from campaign.services.lease import lease_lapsed, lease_until_from


class Budget(Protocol):
    """Time left in this invocation (a Lambda context's remaining time)."""

    def seconds_left(self) -> float: ...


class UploadSource(Protocol):
    def open(self, batch_id: str) -> BinaryIO:
        """The uploaded file as a stream; UploadMissingError when it is not there."""
        ...


class StreamGateways(NamedTuple):
    ingest: IngestGateways
    uploads: UploadSource


class StreamOutcome(StrEnum):
    DONE = "done"
    FAILED = "failed"
    # Out of time: progress is saved and the caller must start a continuation.
    CONTINUE = "continue"
    # Finished, or being ingested by a live invocation: nothing to do here.
    NOTHING_TO_DO = "nothing_to_do"
    # Another invocation took the lease over (this one was presumed dead): stop writing.
    SUPERSEDED = "superseded"


class _Held(NamedTuple):
    record: BatchRecord
    resuming: bool


def ingest_upload(
    batch_id: str, gateways: StreamGateways, budget: Budget, *, sleep: Callable[[float], None] = time.sleep
) -> StreamOutcome:
    """Take the batch's lease, check the file once, then queue its rows window by window."""
    started = time.perf_counter()
    logger.append_keys(batchId=batch_id)
    held = _acquire(batch_id, gateways.ingest, sleep)
    if held is None:
        return StreamOutcome.NOTHING_TO_DO
    record = held.record
    if record.total == 0:  # the first pass has not completed yet, so no row was written
        checked = _check_file(record, gateways)
        if isinstance(checked, CsvFileError):
            gateways.ingest.batches.fail(record, record.lease_until, checked.code, checked.message)
            logger.info("upload refused", extra={"error": checked.code})
            return StreamOutcome.FAILED
        if checked is None:
            return StreamOutcome.SUPERSEDED
        held = _Held(checked, resuming=False)
    outcome = _queue_rows(held, gateways, budget)
    logger.info("upload ingest step", extra={"outcome": outcome.value, "seconds": time.perf_counter() - started})
    return outcome


def _acquire(batch_id: str, gateways: IngestGateways, sleep: Callable[[float], None]) -> _Held | None:
    """Start a reserved upload, or take over one whose ingest died. If a live ingest holds the lease,
    wait until it should have renewed it: a renewal proves it alive, a lapse lets this one resume."""
    now = datetime.now(UTC)
    fresh = BatchRecord(
        batch_id, to_iso(now), BatchState.INGESTING, total=0, skipped=0, lease_until=lease_until_from(now)
    )
    claim = gateways.batches.claim(fresh)
    if isinstance(claim, NewBatch):  # an object put without POST /uploads (e.g. by an operator)
        return _Held(fresh, resuming=False)
    existing: BatchRecord | None = claim.batch
    watched_lease: str | None = None
    while existing is not None:
        now = datetime.now(UTC)
        if existing.state in STARTABLE_STATES:
            started = fresh._replace(
                created_at=existing.created_at, lease_until=lease_until_from(now), declared_size=existing.declared_size
            )
            return _Held(started, resuming=False) if gateways.batches.start(started, existing.state) else None
        if existing.state is not BatchState.INGESTING:
            return None
        if lease_lapsed(existing, now):
            taken = existing._replace(lease_until=lease_until_from(now))
            if not gateways.batches.take_over(existing, taken.lease_until or ""):
                return None
            return _Held(taken, resuming=existing.total > 0)
        if watched_lease is not None:  # renewed while we waited: its holder is alive
            return None
        watched_lease = existing.lease_until
        sleep(max(0.0, (from_iso(existing.lease_until or to_iso(now)) - now).total_seconds()) + 1)
        existing = gateways.batches.get(batch_id)
        if existing is not None and existing.lease_until != watched_lease:
            return None
    return None


def _check_file(record: BatchRecord, gateways: StreamGateways) -> BatchRecord | CsvFileError | None:
    """First pass: every file-level rule and the hash that names the batch, no row written. Returns
    the record with its total, the refusal, or None if the lease was lost meanwhile."""
    held = record

    def renew(_count: int) -> None:
        nonlocal held
        held = _renew(held, gateways) or held

    try:
        body = gateways.uploads.open(record.batch_id)
    except UploadMissingError:
        # Without this the batch would stay INGESTING until someone put the file again.
        return CsvFileError(
            CsvErrorCode.UPLOAD_MISSING, "the uploaded file is no longer in the bucket: reserve and put it again"
        )
    text, checked = open_csv_text(body, MAX_LARGE_UPLOAD_BYTES)
    try:
        total = count_data_records(
            text, max_rows=MAX_LARGE_UPLOAD_ROWS, on_progress=renew, progress_every=STREAM_LEASE_RENEW_RECORDS
        )
    except CsvFileError as exc:
        return exc
    if record.declared_size is not None and checked.bytes_read != record.declared_size:
        return CsvFileError(
            CsvErrorCode.SIZE_MISMATCH,
            f"the uploaded file is {checked.bytes_read} bytes, not the {record.declared_size} bytes declared",
        )
    if not checked.sha256_hex().startswith(record.batch_id):
        return CsvFileError(
            CsvErrorCode.CHECKSUM_MISMATCH, "the uploaded file is not the file whose SHA-256 was declared"
        )
    counted = held._replace(total=total, lease_until=lease_until_from(datetime.now(UTC)))
    return counted if gateways.ingest.batches.checkpoint(counted, held.lease_until) else None


@dataclass(slots=True)
class _Window:
    """Records read since the last checkpoint: the rows to queue and the skips to count."""

    rows: list[Candidate]
    skips: list[SkippedRow]
    text_bytes: int = 0

    def full(self) -> bool:
        return len(self.rows) + len(self.skips) >= STREAM_WINDOW_ROWS or self.text_bytes >= STREAM_WINDOW_BYTES


def _queue_rows(held: _Held, gateways: StreamGateways, budget: Budget) -> StreamOutcome:
    """Second pass: queue rows window by window, checkpointing after each."""
    started = time.perf_counter()
    record = held.record
    gateways.ingest.counts.start(record.batch_id, record.created_at, positions=record.total)
    done_before = record.rows_read
    window = _Window([], [])
    skipped_by_reason: Counter[str] = Counter()
    text, _ = open_csv_text(gateways.uploads.open(record.batch_id), MAX_LARGE_UPLOAD_BYTES)
    position = 0
    for outcome in read_campaign_rows(text, max_rows=MAX_LARGE_UPLOAD_ROWS):
        position += 1
        if position <= done_before:
            # Judged again only so that later duplicates are still recognised; this writes nothing for
            # minutes on a large file, so the lease is renewed as the first pass renews it.
            if position % STREAM_LEASE_RENEW_RECORDS == 0:
                renewed = _renew(record, gateways)
                if renewed is None:
                    return StreamOutcome.SUPERSEDED
                record = renewed
            continue
        if isinstance(outcome, SkippedRow):
            window.skips.append(outcome)
            skipped_by_reason[outcome.reason.value] += 1
        else:
            window.rows.append(candidate_for(record, outcome))
            window.text_bytes += len(outcome.subject) + len(outcome.content)
        if window.full():
            committed = _commit(record, window, position, held.resuming, gateways, skipped_by_reason)
            if committed is None:
                return StreamOutcome.SUPERSEDED
            record, window = committed, _Window([], [])
            if budget.seconds_left() < STREAM_CONTINUE_MARGIN_SECONDS and position < record.total:
                _record_metrics(held.record, record, skipped_by_reason, time.perf_counter() - started)
                return _hand_over(record, gateways)
    committed = _commit(record, window, position, held.resuming, gateways, skipped_by_reason)
    if committed is None:
        return StreamOutcome.SUPERSEDED
    finish_batch(committed, gateways.ingest)
    _record_metrics(held.record, committed, skipped_by_reason, time.perf_counter() - started)
    logger.info(
        "upload ingested",
        extra={
            "total": committed.total,
            "enqueued": committed.enqueued,
            "skipped": committed.skipped,
            "alreadyAccepted": committed.already_accepted,
        },
    )
    return StreamOutcome.DONE


def _record_metrics(before: BatchRecord, after: BatchRecord, skipped_by_reason: Counter[str], seconds: float) -> None:
    """This invocation's share: a continued ingest reports each part once."""
    record_ingest_metrics(
        accepted=(after.enqueued + after.not_enqueued) - (before.enqueued + before.not_enqueued),
        not_enqueued=after.not_enqueued - before.not_enqueued,
        already_accepted=after.already_accepted - before.already_accepted,
        skipped_by_reason=dict(skipped_by_reason),
        seconds=seconds,
    )


def _commit(
    record: BatchRecord,
    window: _Window,
    position: int,
    resuming: bool,
    gateways: StreamGateways,
    skipped_by_reason: Counter[str],
) -> BatchRecord | None:
    """Queue the window's rows (those whose recipients are suppressed are skipped there), then store
    the progress; None if another invocation took the batch over. Suppressed rows are added to
    `skipped_by_reason`."""
    queued = queue_and_record(window.rows, gateways.ingest, resuming=resuming)
    if queued.suppressed:
        skipped_by_reason[SkipReason.SUPPRESSED.value] += queued.suppressed
    reports = in_file_order(tuple(skipped_report(s) for s in window.skips), queued.suppressed_rows)
    progressed = record._replace(
        rows_read=position,
        enqueued=record.enqueued + queued.enqueued,
        not_enqueued=record.not_enqueued + queued.not_enqueued,
        already_accepted=record.already_accepted + queued.already_accepted,
        already_accepted_rows=(record.already_accepted_rows + queued.already_accepted_rows)[:SKIPPED_ROWS_CAP],
        skipped=record.skipped + len(window.skips) + queued.suppressed,
        skipped_rows=(record.skipped_rows + reports)[:SKIPPED_ROWS_CAP],
        lease_until=lease_until_from(datetime.now(UTC)),
    )
    return progressed if gateways.ingest.batches.checkpoint(progressed, record.lease_until) else None


def _renew(record: BatchRecord, gateways: StreamGateways) -> BatchRecord | None:
    """The same record with a renewed lease; None if another invocation took the batch over."""
    renewed = record._replace(lease_until=lease_until_from(datetime.now(UTC)))
    return renewed if gateways.ingest.batches.checkpoint(renewed, record.lease_until) else None


def _hand_over(record: BatchRecord, gateways: StreamGateways) -> StreamOutcome:
    """Let the lease lapse now, so the continuation takes the batch over without waiting."""
    released = record._replace(lease_until=to_iso(datetime.now(UTC)))
    if not gateways.ingest.batches.checkpoint(released, record.lease_until):
        return StreamOutcome.SUPERSEDED
    logger.info("upload ingest continues in a new invocation", extra={"rowsRead": record.rows_read})
    return StreamOutcome.CONTINUE
