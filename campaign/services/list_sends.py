"""listEmailStatus: pages of sends, batches newest first and each batch's rows in file order.

Round one reads the summaries of the batches the page may cover (the batch index, or the one batch
asked for); campaign/domain/listing_plan.py turns them into position ranges and reads the row
indexes in at most two more rounds. The cursor is a position, bound to the filters.

A `delivery` filter reads the delivery index instead, a round per outcome rank asked for. Outcomes are
recorded for sent messages, so it lists SENT and ERROR rows (an ERROR row when SES accepted a message
the worker could not be sure of); `status` narrows it to one of them, and naming PENDING or QUEUED
with it is refused.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from campaign.aws.send_index import SendIndex
from campaign.aws.table_schema import batch_order
from campaign.domain.clock import to_iso
from campaign.domain.cursor import Cursor, Position, decode_cursor, encode_cursor, filter_digest
from campaign.domain.ids import BATCH_ID_FORMAT, is_batch_id
from campaign.domain.listing_plan import FamilyRead, delivery_reads, family_reads, read_page
from campaign.domain.models import BatchListing, SendRow
from campaign.domain.status import FINAL_STATUSES, DeliveryOutcome, EmailStatus
from campaign.limits import (
    LISTING_BATCHES_PER_PAGE,
    MAX_LISTING_BATCHES_PER_PAGE,
    MAX_PAGE_RESPONSE_BYTES,
    MAX_PAGE_SIZE,
)


class ListingError(ValueError):
    """The request cannot be answered as asked (bad range, page size or cursor)."""


class SendFilter(NamedTuple):
    statuses: Sequence[EmailStatus] | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    batch_id: str | None = None
    # Rows whose latest delivery outcome is one of these (None: any row, with an outcome or not).
    deliveries: Sequence[DeliveryOutcome] | None = None


class SendPage(NamedTuple):
    rows: list[SendRow]
    next_cursor: str | None


# Above any batch order key of the same instant ("<createdAt>#<batchId>"), so `to` is inclusive.
_AFTER_ANY_BATCH = "#~"


def list_sends(
    index: SendIndex, where: SendFilter, *, first: int, after: str | None, max_bytes: int = MAX_PAGE_RESPONSE_BYTES
) -> SendPage:
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise ListingError(f"first must be between 1 and {MAX_PAGE_SIZE}")
    if where.batch_id is not None and not is_batch_id(where.batch_id):
        raise ListingError(f"batchId must be {BATCH_ID_FORMAT} (the batchId an upload answered)")
    lower = _utc_bound("from", where.created_from)
    upper = _utc_bound("to", where.created_to)
    if lower is not None and upper is not None and lower > upper:
        raise ListingError("'from' is after 'to'")
    statuses = _statuses(where)
    outcomes = sorted(set(where.deliveries)) if where.deliveries is not None else None
    # Without `delivery` the digest is what it always was, so cursors issued before it stay valid.
    delivery_parts = ("delivery", *outcomes) if outcomes is not None else ()
    digest = filter_digest(*statuses, lower, upper, where.batch_id, *delivery_parts)
    given = decode_cursor(after, digest) if after is not None else None
    if not statuses or outcomes == []:
        # `status: []` (or `delivery: []`) matches no row: an empty answer, read from nothing.
        return SendPage(rows=[], next_cursor=None)
    start = given.position if given is not None else None
    wanted = given.batches if given is not None else LISTING_BATCHES_PER_PAGE
    batches, more = _batches(index, where.batch_id, lower, upper, start, wanted)
    reads: tuple[FamilyRead, ...] = family_reads(statuses) if outcomes is None else delivery_reads(outcomes, statuses)
    page = read_page(batches, more, start, reads, first=first, max_bytes=max_bytes, read_round=index.read_round)
    if page.next_position is None:
        return SendPage(rows=page.rows, next_cursor=None)
    # Small batches: a page that ran out of summaries reads twice as many next time.
    ahead = min(MAX_LISTING_BATCHES_PER_PAGE, 2 * wanted) if page.short_of_batches else LISTING_BATCHES_PER_PAGE
    return SendPage(rows=page.rows, next_cursor=encode_cursor(Cursor(page.next_position, ahead), digest))


def _statuses(where: SendFilter) -> list[EmailStatus]:
    """The statuses listed. With `delivery`, SENT and ERROR (the rows an outcome is recorded for), or
    those of them `status` names; PENDING or QUEUED with `delivery` is refused rather than answered
    with nothing."""
    if where.deliveries is None:
        return sorted(set(where.statuses)) if where.statuses is not None else list(EmailStatus)
    if where.statuses is None:
        return sorted(FINAL_STATUSES)
    unsent = sorted(set(where.statuses) - FINAL_STATUSES)
    if unsent:
        raise ListingError(
            f"status {', '.join(unsent)} cannot be combined with delivery: a delivery outcome is recorded"
            " only for a sent message, so with delivery status may name SENT and ERROR only"
        )
    return sorted(set(where.statuses))


def _utc_bound(name: str, moment: datetime | None) -> str | None:
    """A bound compared as a UTC string: a naive one is UTC, an offset one is converted. Converting
    can leave the years a datetime holds (0001-01-01T00:00+01:00 is in year 0)."""
    if moment is None:
        return None
    try:
        return to_iso(moment)
    except OverflowError as exc:
        raise ListingError(f"'{name}' is out of range: it must fall between years 1 and 9999 in UTC") from exc


def _batches(
    index: SendIndex, batch_id: str | None, lower: str | None, upper: str | None, start: Position | None, wanted: int
) -> tuple[list[BatchListing], Position | None]:
    """The batches a page may cover, newest first, and where the ones after them begin (if any)."""
    if batch_id is not None:
        summary = index.batch_summary(batch_id)
        in_range = summary is not None and (lower is None or summary.created_at >= lower)
        in_range = in_range and summary is not None and (upper is None or summary.created_at <= upper)
        return ([summary] if summary is not None and in_range else []), None
    high = upper + _AFTER_ANY_BATCH if upper is not None else None
    if start is not None:
        at_cursor = batch_order(start.created_at, start.batch_id)
        high = at_cursor if high is None else min(high, at_cursor)
    if lower is not None and high is not None and lower > high:
        return [], None
    found = index.batch_summaries(lower=lower, upper=high, limit=wanted + 1)
    batches = found[:wanted]
    beyond = found[wanted:]
    more = Position(beyond[0].created_at, beyond[0].batch_id, 0) if beyond else None
    return batches, more
