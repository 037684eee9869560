"""Where in its file a row sits, in HISTOGRAM_BUCKETS equal stretches, and how many rows of some
statuses a range of positions is expected to hold, from a batch's per-stretch counts."""

from collections.abc import Iterable

from campaign.domain.models import BatchListing
from campaign.domain.status import EmailStatus
from campaign.limits import HISTOGRAM_BUCKETS

LAST_BUCKET = HISTOGRAM_BUCKETS - 1


def bucket_of(seq: int, file_positions: int) -> int:
    """The stretch of a file of `file_positions` data records that position `seq` is in; a row added
    after the file's records (a resend) counts in the last."""
    if file_positions <= 0 or seq >= file_positions:
        return LAST_BUCKET
    return seq * HISTOGRAM_BUCKETS // file_positions


def _bounds(batch: BatchListing, bucket: int) -> tuple[float, float]:
    width = batch.file_positions / HISTOGRAM_BUCKETS
    end = batch.positions if bucket == LAST_BUCKET else (bucket + 1) * width
    return bucket * width, max(end, bucket * width)


def expected_rows(batch: BatchListing, statuses: Iterable[EmailStatus], start: int, end: int) -> float:
    """Rows of `statuses` expected among positions [start, end): from the per-stretch counts, each
    stretch taken as even, or from the batch's totals when it has no histogram."""
    wanted = list(statuses)
    if not batch.histogram or batch.file_positions <= 0:
        total = sum(batch.counts.of(status) for status in wanted)
        return total * max(0, end - start) / batch.positions if batch.positions else 0.0
    expected = 0.0
    for bucket, counts in enumerate(batch.histogram):
        low, high = _bounds(batch, bucket)
        overlap = min(high, end) - max(low, start)
        if overlap > 0 and high > low:
            expected += sum(counts.of(status) for status in wanted) * overlap / (high - low)
    return expected


def end_for(batch: BatchListing, statuses: Iterable[EmailStatus], start: int, wanted: float) -> int | None:
    """The smallest end such that [start, end) is expected to hold `wanted` rows of `statuses`, or
    None if the rest of the batch is not expected to hold that many."""
    chosen = list(statuses)
    if expected_rows(batch, chosen, start, batch.positions) < wanted:
        return None
    low, high = start + 1, batch.positions
    while low < high:  # expected_rows grows with the end: bisect
        middle = (low + high) // 2
        if expected_rows(batch, chosen, start, middle) >= wanted:
            high = middle
        else:
            low = middle + 1
    return low
