"""Operator re-drives. Both are safe to run at any time and any number of times: a duplicate message
is harmless because the worker claims each send before calling SES.

* `redrive_pending`: rows whose enqueue failed (left PENDING with the reason) go back on the queue.
* `redrive_dead_letters`: DLQ messages go back on the send queue. A row that gave up after transient
  failures only (SES never accepted it) is reopened ERROR → QUEUED — the one deliberate exception to
  "a final status never changes", taken by an operator, never by the system. A row that is SENT, or
  ERROR for a permanent or unknown-outcome reason, is never resent: its dead letter is dropped.
"""

from typing import Literal, NamedTuple

from campaign.aws.dead_letters import DeadLetter, DeadLetterQueue
from campaign.aws.send_index import IndexPartition, SendIndex
from campaign.aws.send_queue import SendJob, SendQueue
from campaign.aws.send_rows import SendRows
from campaign.aws.table_schema import BATCH_STATUS_INDEX, batch_status_partitions
from campaign.domain.clock import now_iso
from campaign.domain.status import FINAL_STATUSES, REOPENABLE_ERRORS, EmailStatus
from campaign.limits import MAX_PAGE_SIZE


class RedriveResult(NamedTuple):
    requeued: int
    still_pending: int


def redrive_pending(batch_id: str, *, index: SendIndex, rows: SendRows, queue: SendQueue) -> RedriveResult:
    pending = []
    for key in batch_status_partitions(batch_id, EmailStatus.PENDING.value):
        start_key = None
        while True:
            partition = IndexPartition(BATCH_STATUS_INDEX, key)
            page = index.newest_first(partition, lower=None, upper=None, limit=MAX_PAGE_SIZE, start_key=start_key)
            pending.extend(page.rows)
            if page.next_key is None:
                break
            start_key = page.next_key
    refused = queue.enqueue([SendJob(row.send_id, row.batch_id) for row in pending])
    requeued = [row for row in pending if row.send_id not in refused]
    now = now_iso()
    for row in requeued:
        rows.mark_queued(row, now)
    return RedriveResult(requeued=len(requeued), still_pending=len(refused))


class DeadLetterResult(NamedTuple):
    requeued: int
    dropped_final: int
    left_in_dlq: int


def redrive_dead_letters(
    dlq: DeadLetterQueue, *, rows: SendRows, queue: SendQueue, max_messages: int = 100_000
) -> DeadLetterResult:
    """Move DLQ messages back to the send queue, reopening rows that may be retried."""
    requeued = dropped = left = 0
    while requeued + dropped + left < max_messages:
        letters = dlq.receive()
        if not letters:
            break
        resend: list[tuple[DeadLetter, SendJob]] = []
        drop: list[DeadLetter] = []
        for letter in letters:
            verdict = _judge_dead_letter(letter, rows)
            if verdict is None:
                left += 1  # unreadable, or its row was never written: an operator must look at it
            elif verdict == "drop":
                drop.append(letter)
            else:
                resend.append((letter, verdict))
        refused = queue.enqueue([job for _, job in resend])
        moved = [letter for letter, job in resend if job.send_id not in refused]
        dlq.delete(moved + drop)
        requeued, dropped, left = requeued + len(moved), dropped + len(drop), left + len(refused)
    return DeadLetterResult(requeued=requeued, dropped_final=dropped, left_in_dlq=left)


def _judge_dead_letter(letter: DeadLetter, rows: SendRows) -> SendJob | Literal["drop"] | None:
    """The job to send again, "drop" for a finished send, or None to leave the letter for a person."""
    try:
        job = SendJob.from_body(letter.body)
    except ValueError:
        return None
    row = rows.get(job.send_id)
    if row is None:
        return None
    if row.status not in FINAL_STATUSES:
        return job
    reopenable = row.status is EmailStatus.ERROR and row.error_kind in {k.value for k in REOPENABLE_ERRORS}
    if reopenable and rows.reopen(row, now_iso()):
        return job
    return "drop"
