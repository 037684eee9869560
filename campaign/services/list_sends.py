"""listEmailStatus: newest-first pages merged from index partitions, one key-condition Query each.

Each requested status is one partition (of the status index, or of the batch+status index when a
batch is given). Every partition is sorted by "<createdAt>#<sendId>", so a k-way merge yields the
global order, and the cursor is simply the last position returned.
"""

import heapq
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import NamedTuple

from campaign.aws.send_index import IndexPartition, SendIndex
from campaign.aws.table_schema import (
    BATCH_STATUS_INDEX,
    INDEX_SHARDS,
    STATUS_INDEX,
    batch_status_partitions,
    created_key,
    status_partitions,
)
from campaign.domain.clock import to_iso
from campaign.domain.cursor import decode_cursor, encode_cursor, key_before
from campaign.domain.models import SendRow, StatusCounts
from campaign.domain.status import FINAL_STATUSES, EmailStatus
from campaign.limits import MAX_PAGE_SIZE


class ListingError(ValueError):
    """The request cannot be answered as asked (bad range, page size or cursor)."""


class SendFilter(NamedTuple):
    statuses: Sequence[EmailStatus] | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    batch_id: str | None = None


class SendPage(NamedTuple):
    rows: list[SendRow]
    next_cursor: str | None


def list_sends(index: SendIndex, where: SendFilter, *, first: int, after: str | None) -> SendPage:
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise ListingError(f"first must be between 1 and {MAX_PAGE_SIZE}")
    # Compared as UTC strings: a naive bound is UTC, an offset one is converted (to_iso does both).
    lower = to_iso(where.created_from) if where.created_from else None
    upper = to_iso(where.created_to) + "#~" if where.created_to else None
    if lower is not None and upper is not None and lower > upper:
        raise ListingError("'from' is after 'to'")
    if after is not None:
        bound = key_before(decode_cursor(after))
        upper = bound if upper is None else min(upper, bound)
    if lower is not None and upper is not None and lower > upper:
        return SendPage(rows=[], next_cursor=None)
    partitions = _partitions(where)
    streams = [_stream(index, partition, lower, upper, _chunk(first, len(partitions))) for partition in partitions]
    merged = _once_each(heapq.merge(*streams, key=_position, reverse=True))
    rows = [row for row, _ in zip(merged, range(first + 1), strict=False)]
    if len(rows) <= first:
        return SendPage(rows=rows, next_cursor=None)
    return SendPage(rows=rows[:first], next_cursor=encode_cursor(_position(rows[first - 1])))


def _chunk(first: int, partitions: int) -> int:
    """Rows asked of each partition per Query: its share of the page plus one, at least a few. Every
    row read beyond the page is wasted, and one partition may hold the whole page; later pages of a
    partition are read only if the merge reaches them."""
    return min(first + 1, max(4, -(-(first + 1) // partitions) + 1))


def count_batch(index: SendIndex, batch_id: str, *, accepted: int | None = None) -> StatusCounts:
    """Rows of a batch per status. The statuses are counted one after another, not as a snapshot,
    while the worker moves rows forward. Given the batch's `accepted` rows (known once its ingest is
    done), the final statuses are counted first, then PENDING, and QUEUED is what remains: a row that
    moves meanwhile is then counted exactly once (perhaps under the status it just left). Without it,
    the counts are a live estimate that may count a moving row twice.

    A status's shards are counted side by side: they are disjoint, and a million-row batch's SENT rows
    are hundreds of 1 MB pages (the index holds whole rows), which one after another take seconds."""
    with ThreadPoolExecutor(max_workers=INDEX_SHARDS, thread_name_prefix="count") as pool:

        def rows_in(status: EmailStatus) -> int:
            keys = batch_status_partitions(batch_id, status.value)
            return sum(pool.map(index.count, [IndexPartition(BATCH_STATUS_INDEX, key) for key in keys]))

        sent, error, pending = rows_in(EmailStatus.SENT), rows_in(EmailStatus.ERROR), rows_in(EmailStatus.PENDING)
        queued = rows_in(EmailStatus.QUEUED) if accepted is None else max(0, accepted - sent - error - pending)
    return StatusCounts(pending=pending, queued=queued, sent=sent, error=error)


def _partitions(where: SendFilter) -> list[IndexPartition]:
    statuses = list(dict.fromkeys(where.statuses)) if where.statuses else list(EmailStatus)
    if where.batch_id is not None:
        batch_id = where.batch_id
        return [
            IndexPartition(BATCH_STATUS_INDEX, key)
            for s in statuses
            for key in batch_status_partitions(batch_id, s.value)
        ]
    return [IndexPartition(STATUS_INDEX, key) for s in statuses for key in status_partitions(s.value)]


def _once_each(rows: Iterator[SendRow]) -> Iterator[SendRow]:
    """The partitions are read one after another, not as a snapshot: a row that changes status between
    two reads is returned by both, side by side (its position does not change). Keep the later copy."""
    held: SendRow | None = None
    for row in rows:
        if held is not None and row.send_id == held.send_id:
            held = (
                row
                if (row.updated_at, row.status in FINAL_STATUSES) > (held.updated_at, held.status in FINAL_STATUSES)
                else held
            )
            continue
        if held is not None:
            yield held
        held = row
    if held is not None:
        yield held


def _position(row: SendRow) -> str:
    return created_key(row.created_at, row.send_id)


def _stream(
    index: SendIndex, partition: IndexPartition, lower: str | None, upper: str | None, chunk: int
) -> Iterator[SendRow]:
    """Rows of one partition, newest first, read lazily a page at a time."""
    start_key = None
    while True:
        page = index.newest_first(partition, lower=lower, upper=upper, limit=chunk, start_key=start_key)
        yield from page.rows
        if page.next_key is None:
            return
        start_key = page.next_key
