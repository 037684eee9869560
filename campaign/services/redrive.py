"""Operator re-drives. Both are safe to run at any time and any number of times: a duplicate message
is harmless because the worker claims each send before calling SES.

* `redrive_pending`: rows whose enqueue failed (left PENDING with the reason) go back on the queue
  and become QUEUED (the listing index keeps them where they were: both are OPEN).
* `redrive_dead_letters`: DLQ messages go back on the send queue. A row that gave up after transient
  failures only (SES never accepted it) is sent again as a new row of its batch, `resendOf` the old
  one, which stays ERROR with `resentAs` naming the new one: statuses only ever move forward, so a
  listing walked during a re-drive still shows every row once. A row that is SENT, or ERROR for a
  permanent or unknown-outcome reason, is never resent: its dead letter is dropped.
"""

from typing import Literal, NamedTuple

from campaign.aws.batch_counts import BatchCounts
from campaign.aws.dead_letters import DeadLetter, DeadLetterQueue
from campaign.aws.send_index import SendIndex
from campaign.aws.send_queue import SendJob, SendQueue
from campaign.aws.send_rows import SendRows
from campaign.domain.clock import now_iso
from campaign.domain.histogram import LAST_BUCKET
from campaign.domain.ids import resend_id_for
from campaign.domain.models import SendRow
from campaign.domain.retention import Retention
from campaign.domain.status import FINAL_STATUSES, RESENDABLE_ERRORS, EmailStatus


class RedriveResult(NamedTuple):
    requeued: int
    still_pending: int


def redrive_pending(batch_id: str, *, index: SendIndex, rows: SendRows, queue: SendQueue) -> RedriveResult:
    pending = index.pending_rows(batch_id)
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


class ResendGateways(NamedTuple):
    rows: SendRows
    counts: BatchCounts
    retention: Retention


def redrive_dead_letters(
    dlq: DeadLetterQueue, *, resend: ResendGateways, queue: SendQueue, max_messages: int = 100_000
) -> DeadLetterResult:
    """Move DLQ messages back to the send queue, resending rows that may be sent again."""
    requeued = dropped = left = 0
    while requeued + dropped + left < max_messages:
        letters = dlq.receive()
        if not letters:
            break
        again: list[tuple[DeadLetter, SendJob]] = []
        drop: list[DeadLetter] = []
        for letter in letters:
            verdict = _judge_dead_letter(letter, resend)
            if verdict is None:
                left += 1  # unreadable, or its row was never written: an operator must look at it
            elif verdict == "drop":
                drop.append(letter)
            else:
                again.append((letter, verdict))
        refused = queue.enqueue([job for _, job in again])
        moved = [letter for letter, job in again if job.send_id not in refused]
        dlq.delete(moved + drop)
        requeued, dropped, left = requeued + len(moved), dropped + len(drop), left + len(refused)
    return DeadLetterResult(requeued=requeued, dropped_final=dropped, left_in_dlq=left)


def _judge_dead_letter(letter: DeadLetter, resend: ResendGateways) -> SendJob | Literal["drop"] | None:
    """The job to queue, "drop" for a finished send, or None to leave the letter for a person."""
    try:
        job = SendJob.from_body(letter.body)
    except ValueError:
        return None
    row = resend.rows.get(job.send_id)
    if row is None:
        return None
    if row.status not in FINAL_STATUSES:
        return job
    resendable = row.status is EmailStatus.ERROR and row.error_kind in {k.value for k in RESENDABLE_ERRORS}
    if not resendable:
        return "drop"
    resent = resend_row(row, resend)
    return SendJob(resent.send_id, resent.batch_id) if resent is not None else "drop"


_MESSAGE_FIELDS = ("batch_id", "email", "subject", "created_at", "content", "body_key", "content_json_bytes")


def resend_row(row: SendRow, resend: ResendGateways) -> SendRow | None:
    """The new row that sends `row` again: created (once), then named on the old row. A re-drive that
    stopped between the two finds the new row and finishes."""
    resend_id = resend_id_for(row.send_id)
    if row.resent_as is not None and row.resent_as != resend_id:
        return None
    now = now_iso()
    if row.resent_as is None:
        # The same message (address, subject, body), as a fresh send after the file's rows.
        fresh = SendRow(
            **{field: getattr(row, field) for field in _MESSAGE_FIELDS},
            send_id=resend_id,
            seq=resend.counts.next_position(row.batch_id),
            status=EmailStatus.QUEUED,
            updated_at=now,
            resend_of=row.send_id,
            bucket=LAST_BUCKET,
        )
        resend.rows.put_new(fresh, resend.retention.expiry_of(row.created_at))
        resend.rows.mark_resent(row, resend_id, now)
    return resend.rows.get(resend_id)
