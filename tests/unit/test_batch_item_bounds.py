"""The stored batch summary (and the streaming ingest's checkpoint, which writes the same attributes)
stays far below DynamoDB's 400 KB item limit in the worst case the limits allow: as many reported
rows as the cap keeps, each echoing the widest cell an echo can hold."""

from campaign.aws.items import batch_item, item_size
from campaign.domain.csv_rules import SkipReason
from campaign.domain.ids import batch_id_for
from campaign.domain.models import AcceptedElsewhereReport, BatchRecord, BatchState, SkippedRowReport
from campaign.domain.reports import echo
from campaign.limits import ECHO_MAX_CHARS, MAX_LARGE_UPLOAD_ROWS, SKIPPED_ROWS_CAP

DYNAMODB_ITEM_LIMIT_BYTES = 400 * 1024
FAR_BELOW_BYTES = DYNAMODB_ITEM_LIMIT_BYTES // 4
# Four bytes in UTF-8, the widest a character gets.
WIDEST_CHARACTER = "\U0001f4e7"
LONGEST_REASON = max((reason.value for reason in SkipReason), key=len)


def _worst_case_batch() -> BatchRecord:
    widest_echo = echo(WIDEST_CHARACTER * 450_000)
    line = MAX_LARGE_UPLOAD_ROWS + 1
    return BatchRecord(
        batch_id=batch_id_for(b"a file"),
        created_at="2026-11-29T00:00:00.000000+00:00",
        state=BatchState.INGESTING,
        total=MAX_LARGE_UPLOAD_ROWS,
        skipped=MAX_LARGE_UPLOAD_ROWS // 2,
        enqueued=0,
        not_enqueued=0,
        skipped_rows=tuple(
            SkippedRowReport(row=line, email=widest_echo, reason=LONGEST_REASON) for _ in range(SKIPPED_ROWS_CAP)
        ),
        lease_until="2026-11-29T00:15:00.000000+00:00",
        rows_read=MAX_LARGE_UPLOAD_ROWS,
        already_accepted=MAX_LARGE_UPLOAD_ROWS // 2,
        already_accepted_rows=tuple(
            AcceptedElsewhereReport(row=line, email=widest_echo, batch_id=batch_id_for(b"another file"))
            for _ in range(SKIPPED_ROWS_CAP)
        ),
    )


def test_an_echo_of_an_absurd_cell_holds_at_most_the_echo_limit() -> None:
    # When a cell of 450,000 four-byte characters is echoed, then the echo holds the echo limit's characters
    assert len(echo(WIDEST_CHARACTER * 450_000)) == ECHO_MAX_CHARS


def test_the_worst_case_batch_summary_is_far_below_dynamodbs_item_limit() -> None:
    # Given the worst-case batch: as many skipped and already-accepted rows as the cap keeps, each echoing the
    # widest cell
    # When it is stored as an item, then the item is a quarter of DynamoDB's limit or less
    assert item_size(batch_item(_worst_case_batch(), expires_at=2_000_000_000)) < FAR_BELOW_BYTES
