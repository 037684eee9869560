"""Conditional writes. A condition that does not hold is an answer, not a failure: another writer got
there first (or the item is not in the state the write expects), and the write changed nothing.
DynamoDB says so with one error code; every other error is a real one and is raised."""

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from campaign.aws.items import Item
from campaign.aws.table_schema import PARTITION_KEY


def conditional_write(write: Callable[..., Any], **request: Any) -> tuple[Item | None, bool]:
    """One conditional PutItem, UpdateItem or DeleteItem (`write`, the client's method, with its
    `request`), and whether its condition held: (the item it returned (ReturnValues), True), or (the
    item it found (ReturnValuesOnConditionCheckFailure), False). The item is None where the request
    asks for none, or there is none. Either way one request: the caller learns the item's state
    without reading it."""
    try:
        response = write(**request)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return exc.response.get("Item"), False
    return response.get("Attributes"), True


def create_unless_exists(ddb: Any, table: str, item: Item) -> Item | None:
    """Create the item unless one with its key exists: None when this call created it, else the item
    found. One conditional PutItem, which returns the existing item when the condition fails, so
    concurrent creators agree on one winner without a read-then-write race, and a loser learns the
    winner's item without a second request."""
    found, created = conditional_write(
        ddb.put_item,
        TableName=table,
        Item=item,
        ConditionExpression=f"attribute_not_exists({PARTITION_KEY})",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    return None if created else found
