"""A body no other row of its ingest carries is stored in the row's message key: it must stay
readable for as long as the row, whoever takes the key later, and its transactions must stay within
DynamoDB's limits however large the bodies are."""

import base64
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from httpx import Response

from campaign.aws.clients import client
from campaign.aws.items import body_from_item, to_attributes
from campaign.aws.message_keys import KeyClaim, MessageKeys
from campaign.aws.table_schema import ACCEPTED_UNTIL, PARTITION_KEY, message_pk
from campaign.domain.retention import Retention
from campaign.limits import (
    DEFAULT_DEDUPE_WINDOW_DAYS,
    DEFAULT_RETENTION_DAYS,
    DYNAMODB_TRANSACT_MAX,
    DYNAMODB_TRANSACT_MAX_BYTES,
)
from scripts.local.provision import LocalResources
from tests.support.aws_calls import recording
from tests.support.csv_files import csv_of

Upload = Callable[[bytes], Response]
RETENTION = Retention(DEFAULT_DEDUPE_WINDOW_DAYS, DEFAULT_RETENTION_DAYS)
LIST = """query($b: String) { listEmailStatus(batchId: $b) { items { email content } } }"""
BODY = "Dear Ann,\n" + " ".join(f"paragraph {n} of the newsletter" for n in range(120))


def _end_windows(stack: LocalResources) -> None:
    """Every message key's deduplication window has passed (its item stays until the retention ends)."""
    ddb = client("dynamodb")
    for item in ddb.scan(TableName=stack.table_name)["Items"]:
        if item[PARTITION_KEY]["S"].startswith(message_pk("")):
            ddb.update_item(
                TableName=stack.table_name,
                Key={PARTITION_KEY: item[PARTITION_KEY]},
                UpdateExpression="SET #until = :past",
                ExpressionAttributeNames={"#until": ACCEPTED_UNTIL},
                ExpressionAttributeValues=to_attributes({":past": 1_000_000_000}),
            )


def _key_item(stack: LocalResources, message_key: str) -> dict[str, Any]:
    key = {PARTITION_KEY: {"S": message_pk(message_key)}}
    item: dict[str, Any] = client("dynamodb").get_item(TableName=stack.table_name, Key=key)["Item"]
    return item


def test_a_key_taken_again_after_the_window_keeps_the_body_the_first_uploads_rows_show(
    upload: Upload, stack: LocalResources, drain: Any, graphql: Callable[..., dict[str, Any]]
) -> None:
    # Given a row whose body went with its message key, sent, and the window since passed
    first = upload(csv_of([("ann@example.com", "News", BODY)])).json()["batchId"]
    drain()
    _end_windows(stack)
    # When another file takes the key again without carrying the body there (two rows share it)
    later = upload(csv_of([("ann@example.com", "News", BODY), ("bob@example.com", "News", BODY)])).json()
    assert later["enqueued"] == 2
    # Then the first upload's row still shows its body, whole
    items = graphql(LIST, b=first)["data"]["listEmailStatus"]["items"]
    assert items == [{"email": "ann@example.com", "content": BODY}]


def test_a_key_this_batch_holds_without_a_body_gains_it_when_taken_again(stack: LocalResources) -> None:
    # Given a key this batch took without a body (a first run of its ingest stored it apart)
    keys = MessageKeys(stack.table_name, RETENTION)
    now = datetime.now(UTC)
    assert keys.claim("batch-1", [KeyClaim("key-1", "send-1")], now, expires_at=2_000_000_000) == {}
    # When a resumed run takes it again, this time with the body
    held = keys.claim("batch-1", [KeyClaim("key-1", "send-1", BODY)], now, expires_at=2_000_000_000)
    # Then the batch still holds it, and the key now holds the body
    assert held == {}
    assert body_from_item(_key_item(stack, "key-1")) == BODY


def test_a_key_held_by_another_batch_is_not_given_a_body(stack: LocalResources) -> None:
    # Given a message key claimed by one batch
    keys = MessageKeys(stack.table_name, RETENTION)
    now = datetime.now(UTC)
    keys.claim("batch-1", [KeyClaim("key-1", "send-1")], now, expires_at=2_000_000_000)
    # When another batch claims the same key with a body
    held = keys.claim("batch-2", [KeyClaim("key-1", "send-2", BODY)], now, expires_at=2_000_000_000)
    # Then the key stays the first batch's and holds no body
    assert held["key-1"].batch_id == "batch-1"
    assert not {"content", "contentZ"} & set(_key_item(stack, "key-1"))


def test_key_transactions_carrying_large_bodies_stay_within_4_mb(stack: LocalResources) -> None:
    # Given 100 keys, each carrying a 90 KB body that compresses little (about 7 MB in all, stored)
    bodies = [base64.b64encode(os.urandom(67_500)).decode() for _ in range(DYNAMODB_TRANSACT_MAX)]
    claims = [KeyClaim(f"key-{i}", f"send-{i}", body) for i, body in enumerate(bodies)]
    # When they are taken
    with recording("dynamodb") as log:
        held = MessageKeys(stack.table_name, RETENTION).claim("batch-1", claims, datetime.now(UTC), 2_000_000_000)
    # Then they went in several transactions, each under 4 MB, and every key holds its body
    transactions = [params["TransactItems"] for params, _ in log.of("TransactWriteItems")]
    sizes = [sum(_values_size(item["Update"]["ExpressionAttributeValues"]) for item in t) for t in transactions]
    assert held == {} and len(transactions) >= 2 and max(sizes) < DYNAMODB_TRANSACT_MAX_BYTES
    assert sum(len(t) for t in transactions) == DYNAMODB_TRANSACT_MAX
    assert all(body_from_item(_key_item(stack, c.message_key)) == c.body for c in claims)


def _values_size(values: dict[str, dict[str, Any]]) -> int:
    return sum(len(value) for typed in values.values() for value in typed.values())
