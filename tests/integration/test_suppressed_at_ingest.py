"""Both ingests skip rows whose recipients are on the suppression list: reason `suppressed`, counted
with the other skips, no message key taken, one suppression read per step of 100 rows."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

import campaign.services.stream_ingest as stream_ingest
from campaign.aws.suppressions import Suppressions
from campaign.aws.table_schema import SUPPRESSION_PREFIX
from campaign.domain.ids import batch_id_for
from campaign.domain.models import SuppressionReason
from scripts.local.provision import LocalResources
from tests.support.aws_calls import recording
from tests.support.csv_files import campaign_csv, csv_of
from tests.support.large_uploads import put_and_notify, reserve
from tests.support.log_lines import json_lines

Upload = Callable[[bytes], Response]

# Line 2 ann, line 3 an invalid address, line 4 bob (suppressed), line 5 cy, line 6 dee (suppressed).
MIXED = csv_of(
    [
        ("ann@example.com", "News", "Hello Ann"),
        ("not-an-address", "News", "Hello"),
        ("Bob@Example.com", "News", "Hello Bob"),
        ("cy@example.com", "News", "Hello Cy"),
        ("dee@example.com", "News", "Hello Dee"),
    ]
)
COUNTS = ("total", "enqueued", "skipped", "notEnqueued", "alreadyAccepted")


@pytest.fixture
def suppressions(stack: LocalResources) -> Suppressions:
    store = Suppressions(stack.table_name)
    store.add("bob@example.com", SuppressionReason.UNSUBSCRIBED, "unsubscribe link")
    store.add("dee@example.com", SuppressionReason.HARD_BOUNCE, "ses bounce 1")
    return store


def _counts(answer: dict[str, Any]) -> tuple[int, ...]:
    return tuple(answer[name] for name in COUNTS)


def _adds_up(answer: dict[str, Any]) -> bool:
    return bool(
        answer["total"] == answer["enqueued"] + answer["skipped"] + answer["notEnqueued"] + answer["alreadyAccepted"]
    )


def _skips(answer: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(s["row"], s["email"], s["reason"]) for s in answer["skippedRows"]]


def _sent_to(log: Any) -> set[str]:
    entries = [entry for params, _ in log.of("SendMessageBatch") for entry in params["Entries"]]
    return {json.loads(entry["MessageBody"])["sendId"] for entry in entries}


def test_a_direct_upload_skips_suppressed_recipients_in_file_order_with_the_other_skips(
    upload: Upload, suppressions: Suppressions
) -> None:
    # Given two of the file's five recipients on the suppression list and one invalid address (the fixture)
    # When the file is uploaded directly
    answer = upload(MIXED).json()
    # Then the suppressed rows are skipped alongside the invalid one, in file order, and the counts add up
    assert _counts(answer) == (5, 2, 3, 0, 0)
    assert _adds_up(answer)
    assert _skips(answer) == [
        (3, "not-an-address", "invalid_email"),
        (4, "Bob@example.com", "suppressed"),
        (6, "dee@example.com", "suppressed"),
    ]


def test_a_suppressed_recipient_gets_no_message_and_no_row(
    upload: Upload, suppressions: Suppressions, api: TestClient
) -> None:
    # Given two of the file's recipients on the suppression list (the fixture)
    # When the file is uploaded
    with recording("sqs", "dynamodb") as log:
        batch_id = upload(MIXED).json()["batchId"]
    written = [
        item["PutRequest"]["Item"]["email"]["S"]
        for params, _ in log.of("BatchWriteItem")
        for items in params["RequestItems"].values()
        for item in items
    ]
    # Then only the two deliverable recipients get a message, a row and a place in the stored summary
    assert len(_sent_to(log)) == 2
    assert sorted(written) == ["ann@example.com", "cy@example.com"]
    assert api.get(f"/uploads/{batch_id}").json()["summary"]["enqueued"] == 2


def test_the_stored_summary_and_a_duplicate_upload_answer_the_same_counts(
    upload: Upload, suppressions: Suppressions, api: TestClient
) -> None:
    # Given a file with suppressed recipients uploaded once
    first = upload(MIXED).json()
    # When the same file is uploaded again and its stored summary is read
    again = upload(MIXED).json()
    stored = api.get(f"/uploads/{first['batchId']}").json()["summary"]
    # Then the duplicate's answer, the stored summary and the first answer agree
    assert again["duplicate"] is True
    assert _counts(again) == _counts(stored) == _counts(first)
    assert _skips(again) == _skips(stored) == _skips(first)
    assert _adds_up(again)


def test_the_same_file_uploaded_after_an_unsuppress_is_still_the_first_uploads_duplicate(
    upload: Upload, suppressions: Suppressions
) -> None:
    # Given a file uploaded while bob was suppressed, and bob unsuppressed since
    first = upload(MIXED).json()
    suppressions.remove("bob@example.com")
    # When the same file is uploaded again
    with recording("sqs") as log:
        again = upload(MIXED).json()
    # Then it is the first upload's duplicate, with its counts, and queues nothing
    assert again["duplicate"] is True
    assert _counts(again) == _counts(first)
    assert log.count("SendMessageBatch") == 0


def test_a_new_file_with_a_suppressed_rows_message_is_accepted_once_the_address_is_unsuppressed(
    upload: Upload, suppressions: Suppressions
) -> None:
    # Given a file uploaded while bob was suppressed, and bob unsuppressed since
    upload(MIXED)
    suppressions.remove("bob@example.com")
    # When a new file holds bob's message and cy's already-accepted one
    answer = upload(csv_of([("bob@example.com", "News", "Hello Bob"), ("cy@example.com", "News", "Hello Cy")])).json()
    # Then bob's message is enqueued and cy's is reported as already accepted
    assert (answer["enqueued"], answer["alreadyAccepted"]) == (1, 1)
    assert answer["alreadyAcceptedRows"][0]["email"] == "cy@example.com"


def test_one_suppression_read_per_step_of_100_rows_for_the_steps_keys_only(
    upload: Upload, suppressions: Suppressions
) -> None:
    # Given a suppression list (the fixture)
    # When a file of 250 rows is uploaded
    with recording("dynamodb") as log:
        upload(campaign_csv(250))
    # Then the suppression list is read once per step of 100 rows, for those rows' keys only
    reads = [keys for params, _ in log.of("BatchGetItem") for keys in params["RequestItems"].values()]
    assert sorted(len(read["Keys"]) for read in reads) == [50, 100, 100]
    assert all(key["pk"]["S"].startswith(SUPPRESSION_PREFIX) for read in reads for key in read["Keys"])
    assert {read["ProjectionExpression"] for read in reads} == {"#pk"}


def test_a_file_with_every_recipient_suppressed_queues_nothing_and_adds_up(
    upload: Upload, suppressions: Suppressions
) -> None:
    # Given a file whose every recipient is suppressed
    content = csv_of([("bob@example.com", "News", "Hello"), ("dee@example.com", "News", "Hello")])
    # When it is uploaded
    with recording("sqs", "dynamodb") as log:
        answer = upload(content).json()
    # Then every row is skipped, the counts add up, and nothing is queued or written
    assert _counts(answer) == (2, 0, 2, 0, 0)
    assert {"SendMessageBatch", "TransactWriteItems", "BatchWriteItem"}.isdisjoint(log.by_operation())


def test_the_ingest_log_counts_suppressed_rows_under_their_own_reason(
    upload: Upload, suppressions: Suppressions, logs: Any
) -> None:
    # Given two of the file's recipients suppressed and one invalid address
    # When the file is uploaded
    upload(MIXED)
    # Then the ingest log counts the suppressed rows apart from the invalid one
    (line,) = [d for d in json_lines(logs.getvalue()) if d.get("message") == "upload ingested"]
    assert line["skipped_by_reason"] == {"invalid_email": 1, "suppressed": 2}


def test_a_streamed_upload_skips_suppressed_recipients_with_the_summary_a_direct_upload_gives(
    api: TestClient, stack: LocalResources, suppressions: Suppressions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a reserved large upload read two rows at a time, with two recipients suppressed
    monkeypatch.setattr(stream_ingest, "STREAM_WINDOW_ROWS", 2)
    reserve(api, MIXED)
    # When the file is put in the bucket and the ingest notified
    assert put_and_notify(stack, MIXED) == {batch_id_for(MIXED): "done"}
    # Then the upload is done with the same counts and skips a direct upload gives
    status = api.get(f"/uploads/{batch_id_for(MIXED)}").json()
    summary = status["summary"]
    assert (status["state"], status["rowsRead"]) == ("DONE", 5)
    assert _counts(summary) == (5, 2, 3, 0, 0)
    assert _adds_up(summary)
    assert _skips(summary) == [
        (3, "not-an-address", "invalid_email"),
        (4, "Bob@example.com", "suppressed"),
        (6, "dee@example.com", "suppressed"),
    ]


def test_a_streamed_upload_leaves_the_suppressed_rows_unqueued(
    api: TestClient, stack: LocalResources, suppressions: Suppressions
) -> None:
    # Given a reserved large upload with two of its recipients suppressed
    reserve(api, MIXED)
    # When the file is put in the bucket and the ingest notified
    with recording("sqs") as log:
        put_and_notify(stack, MIXED)
    # Then only the two deliverable rows are queued
    assert len(_sent_to(log)) == 2
