"""count_batch: a status's shards are counted side by side, one status after another."""

import threading

from campaign.aws.send_index import IndexPartition, SendIndex
from campaign.aws.table_schema import BATCH_STATUS_INDEX, INDEX_SHARDS
from campaign.domain.status import EmailStatus
from campaign.services.list_sends import count_batch

BATCH_ID = "0" * 32
STATUSES = frozenset(status.value for status in EmailStatus)


def _status(partition: IndexPartition) -> str:
    return next(part for part in partition.value.split("#") if part in STATUSES)


class ShardsMeetBeforeAnswering(SendIndex):
    """Each count waits until every shard of its status is being counted: counted one after another,
    the first would wait in vain. Five rows per shard; the order of the statuses is noted."""

    def __init__(self) -> None:  # no AWS client: this index answers from memory
        self.lock = threading.Lock()
        self.barriers: dict[str, threading.Barrier] = {}
        self.finished: list[str] = []

    def count(self, partition: IndexPartition) -> int:
        assert partition.index_name == BATCH_STATUS_INDEX
        status = _status(partition)
        with self.lock:
            barrier = self.barriers.setdefault(status, threading.Barrier(INDEX_SHARDS, timeout=10))
        barrier.wait()
        with self.lock:
            self.finished.append(status)
        return 5


def test_the_shards_of_a_status_are_counted_side_by_side() -> None:
    counts = count_batch(ShardsMeetBeforeAnswering(), BATCH_ID)
    assert (counts.pending, counts.queued, counts.sent, counts.error) == (5 * INDEX_SHARDS,) * 4


def test_statuses_are_still_counted_one_after_another_final_ones_first() -> None:
    # The order is what makes a moving row count once (tests/unit/test_listing_race.py)
    index = ShardsMeetBeforeAnswering()
    count_batch(index, BATCH_ID)
    order = [EmailStatus.SENT.value, EmailStatus.ERROR.value, EmailStatus.PENDING.value, EmailStatus.QUEUED.value]
    assert index.finished == [status for status in order for _ in range(INDEX_SHARDS)]
