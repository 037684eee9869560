"""The Query of a list kept newest first in one index partition (the batches, the suppressions)."""

from campaign.aws.table_schema import (
    ALL_BATCHES,
    BATCH_INDEX,
    BATCH_INDEX_KEY,
    BATCH_ORDER_KEY,
    BATCHES_NEWEST_FIRST,
    SUPPRESSION_INDEX,
    SUPPRESSIONS_NEWEST_FIRST,
)


def test_the_whole_list_is_its_partition_read_backwards() -> None:
    # Given no bound on the order key
    # When the batch list's query is built
    query = BATCHES_NEWEST_FIRST.query("table")
    # Then it reads the list's one partition of the batch index, newest first, naming no order key
    assert query == {
        "TableName": "table",
        "IndexName": BATCH_INDEX,
        "KeyConditionExpression": "#k = :all",
        "ExpressionAttributeNames": {"#k": BATCH_INDEX_KEY},
        "ExpressionAttributeValues": {":all": {"S": ALL_BATCHES}},
        "ScanIndexForward": False,
    }


def test_a_bound_on_the_order_key_is_added_to_the_key_condition() -> None:
    # Given a range of order keys
    # When the batch list's query is built with it
    query = BATCHES_NEWEST_FIRST.query("table", "#o BETWEEN :lo AND :hi", {":lo": "a", ":hi": "b"})
    # Then the key condition bounds the order key, whose name and values it carries as strings
    assert query["KeyConditionExpression"] == "#k = :all AND #o BETWEEN :lo AND :hi"
    assert query["ExpressionAttributeNames"] == {"#k": BATCH_INDEX_KEY, "#o": BATCH_ORDER_KEY}
    assert query["ExpressionAttributeValues"] == {":all": {"S": ALL_BATCHES}, ":lo": {"S": "a"}, ":hi": {"S": "b"}}
    assert query["ScanIndexForward"] is False


def test_each_list_reads_its_own_index() -> None:
    # Given the two lists kept newest first
    # When their queries are built, then each names its own index
    assert SUPPRESSIONS_NEWEST_FIRST.query("table")["IndexName"] == SUPPRESSION_INDEX
    assert BATCHES_NEWEST_FIRST.query("table")["IndexName"] == BATCH_INDEX
