"""A listing race the live stack showed under load (scripts/load_test.py counts "row twice in one
page"), pinned here deterministically, in process: over HTTP the timing cannot be controlled.

listEmailStatus without a status filter (or with several statuses) reads one index partition per
status, one Query after the other, and merges them. Those Queries are not one snapshot: a row the
worker moves QUEUED -> SENT after the QUEUED partition was read and before the SENT one comes back
from both. The merge keeps one copy (the later); `batch { counts }` of a finished ingest derives
QUEUED from the accepted total, so such a row is counted once.
"""

import pytest

from campaign.aws.items import Item
from campaign.aws.send_index import IndexPage, IndexPartition, SendIndex
from campaign.aws.table_schema import BATCH_STATUS_INDEX, STATUS_INDEX
from campaign.domain.models import SendRow
from campaign.domain.status import EmailStatus
from campaign.services.list_sends import SendFilter, count_batch, list_sends

BATCH_ID = "0" * 32
SEND_ID = "1" * 32
CREATED = "2026-11-24T18:47:43.800780Z"
STATUSES = frozenset(status.value for status in EmailStatus)


def _row(status: EmailStatus) -> SendRow:
    return SendRow(
        send_id=SEND_ID,
        batch_id=BATCH_ID,
        email="moving@example.com",
        subject="Hi",
        content="Body",
        status=status,
        created_at=CREATED,
        updated_at=CREATED,
    )


class RowMovesWhileRead(SendIndex):
    """One row, QUEUED when a QUEUED partition is read; the worker marks it SENT right after, so
    every partition read later sees it SENT — what DynamoDB returns for the same interleaving.

    A partition's status is read from its key ("SENT", "<batch>#SENT", or either with a shard
    suffix); the row lives in one partition per status (the first one of that status read)."""

    def __init__(self) -> None:  # no AWS client: this index answers from memory
        self.status = EmailStatus.QUEUED
        self.served: set[str] = set()

    @staticmethod
    def _partition_status(partition: IndexPartition) -> str:
        assert partition.index_name in (STATUS_INDEX, BATCH_STATUS_INDEX)
        return next(part for part in partition.value.split("#") if part in STATUSES)

    def _read(self, partition: IndexPartition) -> list[SendRow]:
        status = self._partition_status(partition)
        rows = []
        if status == self.status.value and status not in self.served:
            self.served.add(status)
            rows.append(_row(self.status))
        if status == EmailStatus.QUEUED.value and self.status is EmailStatus.QUEUED and rows:
            self.status = EmailStatus.SENT  # the worker's update lands between two partition reads
        return rows

    def newest_first(
        self,
        partition: IndexPartition,
        *,
        lower: str | None,
        upper: str | None,
        limit: int,
        start_key: Item | None = None,
    ) -> IndexPage:
        return IndexPage(rows=self._read(partition)[:limit], next_key=None)

    def count(self, partition: IndexPartition) -> int:
        assert partition.index_name == BATCH_STATUS_INDEX
        return len(self._read(partition))


@pytest.mark.parametrize("where", [SendFilter(), SendFilter(batch_id=BATCH_ID)], ids=["all", "batch"])
def test_a_row_that_changes_status_mid_listing_is_listed_once(where: SendFilter) -> None:
    # Given one row that the worker moves QUEUED -> SENT between two partition reads
    # When a page is listed
    page = list_sends(RowMovesWhileRead(), where, first=10, after=None)
    # Then the row is in it once
    assert [row.send_id for row in page.rows] == [SEND_ID]


def test_a_row_that_changes_status_mid_count_of_a_finished_ingest_is_counted_once() -> None:
    # Given a batch whose ingest accepted one row, which the worker moves QUEUED -> SENT mid-count
    # When the batch's rows are counted
    counts = count_batch(RowMovesWhileRead(), BATCH_ID, accepted=1)
    # Then it is counted once
    assert counts.pending + counts.queued + counts.sent + counts.error == 1
