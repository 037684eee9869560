"""Index keys are write-sharded so that no campaign puts all its rows in one DynamoDB partition."""

from collections import Counter

from campaign.aws.table_schema import (
    INDEX_SHARDS,
    batch_status_key,
    batch_status_partitions,
    shard_of,
    status_key,
    status_partitions,
)
from campaign.domain.ids import send_id_for


def _send_ids(count: int) -> list[str]:
    return [send_id_for("batch", f"user{i}@example.com") for i in range(count)]


def test_a_send_keeps_its_shard_whatever_its_status() -> None:
    send_id = _send_ids(1)[0]
    shards = {status_key(s, send_id).rsplit("#", 1)[1] for s in ("PENDING", "QUEUED", "SENT", "ERROR")}
    assert shards == {str(shard_of(send_id))}


def test_a_large_campaign_spreads_evenly_over_every_shard() -> None:
    # Given 10,000 recipients of one batch
    counts = Counter(shard_of(send_id) for send_id in _send_ids(10_000))
    # Then every shard gets between 10% and 15% of them (uniform would be 12.5% with 8 shards)
    assert len(counts) == INDEX_SHARDS
    assert all(1_000 <= n <= 1_500 for n in counts.values()), counts


def test_partition_lists_cover_every_key_a_row_can_have() -> None:
    send_ids = _send_ids(500)
    assert {status_key("SENT", i) for i in send_ids} == set(status_partitions("SENT"))
    assert {batch_status_key("b", "QUEUED", i) for i in send_ids} == set(batch_status_partitions("b", "QUEUED"))
