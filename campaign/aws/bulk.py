"""BatchWriteItem and BatchGetItem in their size limits, with the partial failures retried.

DynamoDB may leave some of a batch unprocessed (throttling); those are retried with backoff on top of
botocore's own retries, and what is still left after that is an error, never silently dropped.
"""

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from campaign.aws.items import Item
from campaign.aws.retry import attempts, backoff, is_throttling
from campaign.limits import DYNAMODB_BATCH_GET_MAX, DYNAMODB_BATCH_WRITE_MAX


class IncompleteWriteError(RuntimeError):
    """DynamoDB kept returning unprocessed items after every retry."""


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def put_all(ddb: Any, table: str, items: Sequence[Item]) -> None:
    """Unconditional puts, 25 per call: creations, or rewrites of identical items."""
    for chunk in chunks(items, DYNAMODB_BATCH_WRITE_MAX):
        pending: list[Item] = [{"PutRequest": {"Item": item}} for item in chunk]
        for attempt in attempts():
            try:
                response = ddb.batch_write_item(RequestItems={table: pending})
            except ClientError as exc:
                if not is_throttling(exc):
                    raise
                backoff(attempt)  # throttled past botocore's own retries: nothing was written
                continue
            pending = response.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                break
            backoff(attempt)
        if pending:
            raise IncompleteWriteError(f"{len(pending)} items stayed unprocessed after retries")


def get_all(
    ddb: Any,
    table: str,
    keys: Sequence[Item],
    *,
    consistent: bool,
    projection: str | None = None,
    names: dict[str, str] | None = None,
) -> list[Item]:
    """The items that exist among `keys`, 100 per call; only the `projection` attributes if given
    (`names` for its placeholders)."""
    found: list[Item] = []
    shape: dict[str, Any] = {"ConsistentRead": consistent}
    if projection is not None:
        shape["ProjectionExpression"] = projection
    if names:
        shape["ExpressionAttributeNames"] = names
    for chunk in chunks(keys, DYNAMODB_BATCH_GET_MAX):
        wanted: list[Item] = list(chunk)
        for attempt in attempts():
            response = ddb.batch_get_item(RequestItems={table: {"Keys": wanted, **shape}})
            found.extend(response["Responses"].get(table, []))
            wanted = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not wanted:
                break
            backoff(attempt)
        if wanted:
            raise IncompleteWriteError(f"{len(wanted)} items stayed unread after retries")
    return found
