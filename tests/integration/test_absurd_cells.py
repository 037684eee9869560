"""No cell can break a file: absurdly large cells are skipped with a shortened echo, on both paths,
and nothing stored grows with them (DynamoDB refuses items over 400 KB)."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from campaign.aws.clients import client
from campaign.aws.items import item_size
from campaign.aws.table_schema import PARTITION_KEY, batch_pk
from campaign.domain.ids import batch_id_for
from campaign.domain.reports import ELLIPSIS
from campaign.limits import ECHO_MAX_CHARS, MAX_CONTENT_BYTES
from scripts.local.provision import LocalResources
from tests.support.large_uploads import put_and_notify, reserve

Upload = Callable[[bytes], Response]
HEADER = b"email,subject,content\n"
GOOD = b"ok@example.com,Hello,Body\n"
# A stored batch summary this small is far from DynamoDB's 400 KB item limit.
SMALL_ITEM_BYTES = 64 * 1024


def _one_huge_invalid_address() -> bytes:
    return HEADER + GOOD + b"x" * 450_000 + b"@,Hello,Body\n"


def _many_large_invalid_addresses() -> bytes:
    return HEADER + GOOD + b"".join(b"y" * 5_000 + b"-" + str(i).encode() + b",Hello,Body\n" for i in range(100))


def _large_cells_everywhere() -> bytes:
    """Cells at the size limits: a subject too long, and a body one byte over."""
    return (
        HEADER
        + GOOD
        + b"a@example.com,"
        + b"S" * 10_000
        + b",Body\n"
        + b"b@example.com,Hi,"
        + b"B" * (MAX_CONTENT_BYTES + 1)
        + b"\n"
    )


FILES = {
    "one 450 KB address": _one_huge_invalid_address,
    "100 addresses of 5 KB": _many_large_invalid_addresses,
    "oversized subject and body": _large_cells_everywhere,
}


def _batch_item_size(stack: LocalResources, batch_id: str) -> int:
    item = client("dynamodb").get_item(TableName=stack.table_name, Key={PARTITION_KEY: {"S": batch_pk(batch_id)}})
    return item_size(item["Item"])


def _echoes_are_short(rows: list[dict[str, Any]]) -> bool:
    return all(len(row["email"]) <= ECHO_MAX_CHARS for row in rows)


@pytest.mark.parametrize("make", FILES.values(), ids=FILES.keys())
def test_a_direct_upload_with_absurd_cells_ingests_its_good_row(
    upload: Upload, stack: LocalResources, make: Callable[[], bytes]
) -> None:
    # Given a file with one good row and absurdly large cells
    content = make()
    # When it is uploaded directly
    response = upload(content)
    body = response.json()
    # Then the good row is enqueued, every other row skipped with a short echo, and the stored summary stays small
    assert response.status_code == 201, body
    assert body["enqueued"] == 1 and body["skipped"] == body["total"] - 1
    assert _echoes_are_short(body["skippedRows"])
    assert _batch_item_size(stack, body["batchId"]) < SMALL_ITEM_BYTES


@pytest.mark.parametrize("make", FILES.values(), ids=FILES.keys())
def test_a_streamed_upload_with_absurd_cells_ingests_its_good_row(
    api: TestClient, stack: LocalResources, make: Callable[[], bytes]
) -> None:
    # Given a reserved large upload of a file with one good row and absurdly large cells
    content = make()
    reserve(api, content)
    # When the file is put in the bucket and the ingest notified
    assert put_and_notify(stack, content) == {batch_id_for(content): "done"}
    # Then the upload is done with the good row enqueued, short echoes, and a small stored summary
    status = api.get(f"/uploads/{batch_id_for(content)}").json()
    assert status["state"] == "DONE"
    assert status["summary"]["enqueued"] == 1 and _echoes_are_short(status["summary"]["skippedRows"])
    assert _batch_item_size(stack, batch_id_for(content)) < SMALL_ITEM_BYTES


def test_the_same_absurd_file_gets_the_same_answer_on_both_paths(
    api: TestClient, upload: Upload, stack: LocalResources
) -> None:
    # Given a file with 100 addresses of 5 KB, ingested as a large upload
    content = _many_large_invalid_addresses()
    reserve(api, content)
    put_and_notify(stack, content)
    streamed = api.get(f"/uploads/{batch_id_for(content)}").json()["summary"]
    # When the same file is uploaded directly
    direct = upload(content).json()
    # Then the direct answer is the streamed summary, marked as a duplicate
    assert direct == streamed | {"duplicate": True}


def test_an_echoed_cell_is_cut_and_marked_as_cut(upload: Upload) -> None:
    # Given a file with a 450 KB invalid address
    content = _one_huge_invalid_address()
    # When it is uploaded
    echoed = upload(content).json()["skippedRows"][0]["email"]
    # Then the skipped row's echo is cut to the echo limit and ends with an ellipsis
    assert echoed == "x" * (ECHO_MAX_CHARS - 1) + ELLIPSIS
