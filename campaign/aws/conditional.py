"""Conditional writes. A condition that does not hold is an answer, not a failure: another writer got
there first (or the item is not in the state the write expects), and the write changed nothing.
DynamoDB says so with one error code; every other error is a real one and is raised."""

from typing import Any

from botocore.exceptions import ClientError

from campaign.aws.items import Item
from campaign.aws.table_schema import PARTITION_KEY


def is_conditional_failure(exc: ClientError) -> bool:
    """The write's condition did not hold (for a transaction, DynamoDB says TransactionCanceled instead)."""
    return bool(exc.response["Error"]["Code"] == "ConditionalCheckFailedException")


def create_unless_exists(ddb: Any, table: str, item: Item) -> Item | None:
    """Create the item unless one with its key exists: None when this call created it, else the item
    found. One conditional PutItem, which returns the existing item when the condition fails
    (ReturnValuesOnConditionCheckFailure), so concurrent creators agree on one winner without a
    read-then-write race, and a loser learns the winner's item without a second request."""
    try:
        ddb.put_item(
            TableName=table,
            Item=item,
            ConditionExpression=f"attribute_not_exists({PARTITION_KEY})",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
        found: Item = exc.response["Item"]
        return found
    return None
