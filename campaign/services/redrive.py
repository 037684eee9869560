"""Re-drive: put rows whose enqueue failed (left PENDING with the reason) back on the queue.

Safe to run at any time and any number of times: a duplicate message is harmless because the worker
claims each send before calling SES.
"""

from dataclasses import dataclass

from campaign.aws.send_index import IndexPartition, SendIndex
from campaign.aws.send_queue import SendJob, SendQueue
from campaign.aws.send_rows import SendRows
from campaign.aws.table_schema import BATCH_STATUS_INDEX, batch_status_key
from campaign.domain.clock import now_iso
from campaign.domain.status import EmailStatus
from campaign.limits import MAX_PAGE_SIZE


@dataclass(frozen=True, slots=True)
class RedriveResult:
    requeued: int
    still_pending: int


def redrive_pending(batch_id: str, *, index: SendIndex, rows: SendRows, queue: SendQueue) -> RedriveResult:
    partition = IndexPartition(BATCH_STATUS_INDEX, batch_status_key(batch_id, EmailStatus.PENDING.value))
    pending = []
    start_key = None
    while True:
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
