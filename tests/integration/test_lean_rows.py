"""Rows stay small: a body too large for its row is stored apart (with its message key, or once per
batch and content when rows share it), status changes write one-unit items, everything expires, and
a listing page never outgrows Lambda's response."""

import email
import email.policy
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from campaign.aws.clients import client
from campaign.aws.items import item_size
from campaign.aws.table_schema import ACCEPTED_UNTIL, BODY_PREFIX, MESSAGE_PREFIX, SEND_PREFIX, TTL_ATTRIBUTE
from campaign.domain.clock import from_iso
from campaign.limits import (
    DEFAULT_DEDUPE_WINDOW_DAYS,
    DEFAULT_RETENTION_DAYS,
    MAX_PAGE_RESPONSE_BYTES,
    WRITE_UNIT_BYTES,
)
from scripts.local.provision import LocalResources
from tests.conftest import reset_process_caches
from tests.support.aws_calls import recording
from tests.support.csv_files import csv_of

Upload = Callable[[bytes], Response]
DAY = 24 * 3600
LIST = """query($b: String, $after: String, $first: Int) {
  listEmailStatus(batchId: $b, first: $first, after: $after) { items { email status content } nextCursor }
}"""


def _items(stack: LocalResources, prefix: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client("dynamodb").scan(TableName=stack.table_name)["Items"]
    return [item for item in items if item["pk"]["S"].startswith(prefix)]


def _body(i: int, size: int) -> str:
    """Text of about `size` bytes that is different for every `i`."""
    words = " ".join(f"word{(i * 7919 + n * 104729) % 100_003}" for n in range(size // 8))
    return f"Dear customer {i},\n{words}"[:size]


@pytest.fixture
def ses_mode(stack: LocalResources, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEND_MODE", "ses")
    reset_process_caches()


def test_a_short_body_sits_in_its_row(upload: Upload, stack: LocalResources) -> None:
    # Given a file whose one row has a short body
    # When it is uploaded
    upload(csv_of([("ann@example.com", "Hi", "Short body")]))
    # Then the body is in the row and nothing is stored apart
    (row,) = _items(stack, SEND_PREFIX)
    assert row["content"]["S"] == "Short body" and _items(stack, BODY_PREFIX) == []


def test_a_long_body_is_stored_with_its_message_key_and_sent_and_listed_whole(
    upload: Upload, stack: LocalResources, drain: Any, ses_mode: None, graphql: Callable[..., dict[str, Any]]
) -> None:
    # Given a row whose body (2 KB) would make it larger than one write unit
    body = _body(1, 2048)
    batch_id = upload(csv_of([("ann@example.com", "Hi", body)])).json()["batchId"]
    # When the worker sends it
    with recording("sesv2") as log:
        drain()
    # Then the row is small, the body sits in the message key's item (no item of its own), SES got
    # the body whole, and so does a listing
    (row,) = _items(stack, SEND_PREFIX)
    assert "content" not in row and item_size(row) <= WRITE_UNIT_BYTES
    (key,) = _items(stack, MESSAGE_PREFIX)
    assert row["bodyKey"] == key["pk"] and {"content", "contentZ"} & set(key)
    assert _items(stack, BODY_PREFIX) == []
    sent = email.message_from_bytes(log.of("SendEmail")[0][0]["Content"]["Raw"]["Data"], policy=email.policy.default)
    assert isinstance(sent, EmailMessage) and sent.get_content().replace("\r\n", "\n").startswith(body)
    items = graphql(LIST, b=batch_id)["data"]["listEmailStatus"]["items"]
    assert items == [{"email": "ann@example.com", "status": "SENT", "content": body}]


def test_a_body_every_row_of_a_file_shares_is_stored_once(upload: Upload, stack: LocalResources) -> None:
    # Given a file of 30 rows sharing one 5 KB body
    shared = _body(0, 5000)
    # When it is uploaded
    upload(csv_of([(f"u{i}@example.com", "Newsletter", shared) for i in range(30)]))
    # Then the body is stored once, apart, and no message key holds a copy
    assert len(_items(stack, SEND_PREFIX)) == 30 and len(_items(stack, BODY_PREFIX)) == 1
    assert not [key for key in _items(stack, MESSAGE_PREFIX) if {"content", "contentZ"} & set(key)]


def test_a_row_stays_within_one_write_unit_through_its_status_changes(
    upload: Upload, stack: LocalResources, drain: Any
) -> None:
    # Given five rows with the longest subject and 3 KB bodies
    longest_subject = "S" * 200
    # When they are uploaded and sent
    upload(csv_of([(f"u{i}@example.com", longest_subject, _body(i, 3000)) for i in range(5)]))
    drain()
    # Then every row is SENT and none is larger than one write unit
    rows = _items(stack, SEND_PREFIX)
    assert {row["status"]["S"] for row in rows} == {"SENT"}
    assert max(item_size(row) for row in rows) <= WRITE_UNIT_BYTES


def test_rows_bodies_batches_and_keys_expire_and_keys_block_for_the_window(
    upload: Upload, stack: LocalResources, count_changes: Any
) -> None:
    # Given an upload of two rows sharing a body stored apart
    shared = _body(1, 3000)
    upload(csv_of([("ann@example.com", "Hi", shared), ("bob@example.com", "Hi", shared)]))
    # When the stream consumer has counted the rows, and the items are read back
    count_changes()
    now = datetime.now(UTC).timestamp()
    created = from_iso(_items(stack, SEND_PREFIX)[0]["createdAt"]["S"]).timestamp()
    # Then everything expires after the retention (keys too: a key may hold its row's body)
    for prefix in (SEND_PREFIX, BODY_PREFIX, MESSAGE_PREFIX, "BATCH#", "COUNTS#"):
        for item in _items(stack, prefix):
            kept_until = int(item[TTL_ATTRIBUTE]["N"])
            assert kept_until == pytest.approx(created + DEFAULT_RETENTION_DAYS * DAY, abs=2), prefix
    # And a key blocks a second send of its message for the deduplication window
    for key in _items(stack, MESSAGE_PREFIX):
        assert int(key[ACCEPTED_UNTIL]["N"]) == pytest.approx(now + DEFAULT_DEDUPE_WINDOW_DAYS * DAY, abs=60)


def test_a_page_of_large_bodies_ends_before_lambdas_response_limit(
    upload: Upload, api: TestClient, count_changes: Any
) -> None:
    # Given 40 rows whose 96 KB bodies are emoji (12 bytes each once escaped in JSON)
    emoji = "\U0001f600" * (96_000 // 4)
    batch_id = upload(csv_of([(f"u{i}@example.com", "Smile", emoji) for i in range(40)])).json()["batchId"]
    count_changes()
    # When a page of 50 is asked for, with the bodies
    response = api.post("/graphql", json={"query": LIST, "variables": {"b": batch_id, "first": 50}})
    page = response.json()["data"]["listEmailStatus"]
    # Then the page ends early, under the limit, with a cursor; following it lists every row once
    assert len(response.content) < MAX_PAGE_RESPONSE_BYTES
    assert 0 < len(page["items"]) < 40 and page["nextCursor"] is not None
    emails = [item["email"] for item in page["items"]]
    after = page["nextCursor"]
    while after is not None:
        response = api.post("/graphql", json={"query": LIST, "variables": {"b": batch_id, "first": 50, "after": after}})
        assert len(response.content) < MAX_PAGE_RESPONSE_BYTES
        page = response.json()["data"]["listEmailStatus"]
        emails += [item["email"] for item in page["items"]]
        after = page["nextCursor"]
    assert emails == [f"u{i}@example.com" for i in range(40)]
