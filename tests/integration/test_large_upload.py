"""Large uploads: POST /uploads → pre-signed PUT to S3 → streaming ingest → GET /uploads/{id}
(tests/support/large_uploads.py plays the client and S3)."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

import campaign.services.stream_ingest as stream_ingest
from campaign.aws.clients import client
from campaign.aws.upload_store import upload_key
from campaign.domain.csv_rules import CsvErrorCode
from campaign.domain.ids import batch_id_for
from campaign.domain.models import StatusCounts
from campaign.limits import MAX_LARGE_UPLOAD_BYTES
from scripts.local.provision import LocalResources
from scripts.local.sqs_poller import LocalLambdaContext
from tests.support.aws_calls import Fault, faults, recording
from tests.support.csv_files import campaign_csv
from tests.support.large_uploads import notify, put_and_notify, reserve, sha256_of
from tests.support.leases import expire_lease
from worker import s3_ingest

Upload = Callable[[bytes], Response]


class IngestCrashError(Exception):
    """Stands for the ingest Lambda dying mid-file."""


CountsOf = Callable[[str], StatusCounts]


def _messages_sent(log: Any) -> int:
    return sum(len(params["Entries"]) for params, _ in log.of("SendMessageBatch"))


def _mixed_file() -> bytes:
    good = campaign_csv(30).decode()
    return (good + "not-an-address,Hi,Body\nuser3@example.com,Again,Body\n").encode()


def test_reserving_an_upload_returns_a_presigned_put_bound_to_the_files_checksum(api: TestClient) -> None:
    # Given a small campaign file not seen before
    content = campaign_csv(3)
    # When the client reserves an upload for it
    response = reserve(api, content)
    # Then the upload is created under the file's batch id, awaits its bytes, and carries a pre-signed
    # PUT to the upload key that S3 will only accept with the file's SHA-256
    body = response.json()
    assert response.status_code == 201
    assert body["uploadId"] == body["batchId"] == batch_id_for(content)
    assert body["state"] == "AWAITING_UPLOAD"
    assert upload_key(body["batchId"]) in body["upload"]["url"]
    assert "x-amz-checksum-sha256" in body["upload"]["url"]
    assert body["upload"]["method"] == "PUT" and set(body["upload"]["headers"]) == {"x-amz-checksum-sha256"}


def test_a_reserved_upload_reports_awaiting_upload(api: TestClient) -> None:
    # Given an upload reserved but not yet put
    content = campaign_csv(3)
    reserve(api, content)
    # When the client asks for its status
    status = api.get(f"/uploads/{batch_id_for(content)}").json()
    # Then it awaits its upload, with no total, no row read and no summary yet
    assert (status["state"], status["total"], status["rowsRead"], status["summary"]) == (
        "AWAITING_UPLOAD",
        None,
        0,
        None,
    )


def test_an_unknown_upload_id_is_a_404_naming_the_problem(api: TestClient) -> None:
    # Given a well-formed upload id that was never reserved
    # When the client asks for its status
    response = api.get(f"/uploads/{'0' * 32}")
    # Then the answer is a 404 saying the upload is not found
    assert response.status_code == 404 and response.json()["error"] == "upload_not_found"


@pytest.mark.parametrize("upload_id", ["not-an-id", "a" * 2000, "A" * 32])
def test_a_malformed_upload_id_is_a_400_before_any_aws_call(api: TestClient, upload_id: str) -> None:
    # Given an upload id that is not 32 lowercase hexadecimal characters
    # When the client asks for its status
    with recording("dynamodb") as log:
        response = api.get(f"/uploads/{upload_id}")
    # Then the answer is a 400 describing the expected form, and DynamoDB was never called
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_upload_id"
    assert "32 lowercase hexadecimal characters" in response.json()["message"]
    assert log.by_operation() == {}


def test_reserving_a_file_above_the_size_limit_is_a_413(api: TestClient) -> None:
    # Given a file one byte above the large-upload limit
    # When the client reserves an upload for it
    response = api.post("/uploads", json={"sha256": "a" * 64, "size": MAX_LARGE_UPLOAD_BYTES + 1})
    # Then the reservation is refused as a 413, file too large
    assert response.status_code == 413 and response.json()["error"] == CsvErrorCode.FILE_TOO_LARGE


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"sha256": "xyz", "size": 10},
        {"sha256": "a" * 64, "size": 0},
        {"sha256": "a" * 63, "size": 5},
        {"sha256": "a" * 64, "size": True},
        {"sha256": "a" * 64, "size": 5.0},
        {"sha256": "a" * 64, "size": "5"},
    ],
    ids=["empty", "bad-hash", "zero", "short-hash", "true", "float", "string"],
)
def test_a_malformed_reservation_is_a_400(api: TestClient, body: dict[str, Any]) -> None:
    # Given a reservation body with a missing, malformed or wrongly typed checksum or size
    # When the client posts it
    response = api.post("/uploads", json=body)
    # Then it is refused as an invalid request
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_a_streamed_upload_ends_with_the_summary_a_direct_upload_gives(
    api: TestClient, stack: LocalResources, upload: Upload
) -> None:
    # Given a reserved file of 30 good rows, one invalid address and one repeated recipient
    content = _mixed_file()
    reserve(api, content)
    # When the file is put to S3 and its event ingested
    outcome = put_and_notify(stack, content)
    # Then the ingest is done and the status carries the summary a direct upload would give: 32 rows,
    # 30 queued, 2 skipped with their row numbers and reasons
    status = api.get(f"/uploads/{batch_id_for(content)}").json()
    assert outcome == {batch_id_for(content): "done"}
    assert status["state"] == "DONE" and status["rowsRead"] == status["total"] == 32
    summary = status["summary"]
    assert (summary["total"], summary["enqueued"], summary["skipped"]) == (32, 30, 2)
    assert [(s["row"], s["reason"]) for s in summary["skippedRows"]] == [
        (32, "invalid_email"),
        (33, "duplicate_recipient"),
    ]


def test_streamed_rows_are_queued_once_each_and_sent(
    api: TestClient, stack: LocalResources, drain: Any, counts_of: CountsOf
) -> None:
    # Given a reserved file of 120 rows
    content = campaign_csv(120)
    reserve(api, content)
    # When it is put and ingested, and the worker drains the queue
    with recording("sqs", "dynamodb") as log:
        put_and_notify(stack, content)
    drain()
    # Then each row was queued exactly once and every row ends SENT
    assert _messages_sent(log) == 120
    assert counts_of(batch_id_for(content)) == (0, 0, 120, 0)


def test_the_same_file_uploaded_directly_after_streaming_is_a_duplicate(
    api: TestClient, stack: LocalResources, upload: Upload
) -> None:
    # Given a file of 20 rows already streamed and ingested
    content = campaign_csv(20)
    reserve(api, content)
    put_and_notify(stack, content)
    # When the same bytes are uploaded directly
    with recording("sqs") as log:
        again = upload(content)
    # Then the answer is the streamed batch's summary, marked as a duplicate; nothing more is queued
    assert again.status_code == 200 and again.json()["duplicate"] is True and again.json()["enqueued"] == 20
    assert _messages_sent(log) == 0


def test_reserving_a_file_already_uploaded_directly_needs_no_upload(api: TestClient, upload: Upload) -> None:
    # Given a file of 20 rows already uploaded directly
    content = campaign_csv(20)
    upload(content)
    # When the client reserves a large upload for the same bytes
    response = reserve(api, content)
    # Then the answer is the finished batch, with no upload URL to put to
    assert response.status_code == 200
    assert response.json()["state"] == "DONE" and response.json()["upload"] is None


def test_a_direct_upload_of_a_reserved_file_ingests_it_and_the_late_s3_event_does_nothing(
    api: TestClient, stack: LocalResources, upload: Upload
) -> None:
    # Given a reserved file of 20 rows that the client then uploads directly instead
    content = campaign_csv(20)
    reserve(api, content)
    direct = upload(content)
    # When the same bytes arrive in S3 afterwards and their event is handled
    with recording("sqs") as log:
        outcome = put_and_notify(stack, content)
    # Then the direct upload queued the 20 rows, and the late event has nothing to do and queues nothing
    assert direct.status_code == 201 and direct.json()["enqueued"] == 20
    assert outcome == {batch_id_for(content): "nothing_to_do"}
    assert _messages_sent(log) == 0


def test_a_file_refused_whole_fails_the_upload_and_writes_no_row(
    api: TestClient, stack: LocalResources, counts_of: CountsOf
) -> None:
    # Given a reserved file that lacks the content column
    content = b"email,subject\nann@example.com,Hello\n"
    reserve(api, content)
    # When it is put and ingested
    with recording("sqs") as log:
        put_and_notify(stack, content)
    # Then the upload fails naming the missing column, and no message or row was written
    status = api.get(f"/uploads/{batch_id_for(content)}").json()
    assert status["state"] == "FAILED" and status["error"]["code"] == CsvErrorCode.MISSING_COLUMNS
    assert "content" in status["error"]["message"]
    assert _messages_sent(log) == 0 and counts_of(batch_id_for(content)) == (0, 0, 0, 0)


def test_a_file_failing_deep_inside_is_refused_before_any_row_is_queued(api: TestClient, stack: LocalResources) -> None:
    # Given a reserved file of 300 good rows followed by an unterminated quote
    content = campaign_csv(300) + b'ann@example.com,"unterminated,Body\n'
    reserve(api, content)
    # When it is put and ingested
    with recording("sqs") as log:
        put_and_notify(stack, content)
    # Then the upload fails as malformed CSV and not one of the good rows was queued
    status = api.get(f"/uploads/{batch_id_for(content)}").json()
    assert status["state"] == "FAILED" and status["error"]["code"] == CsvErrorCode.MALFORMED_CSV
    assert _messages_sent(log) == 0


def test_an_upload_deleted_before_its_ingest_fails_the_batch_instead_of_leaving_it_ingesting(
    api: TestClient, stack: LocalResources
) -> None:
    # Given a reserved upload whose object is gone (deleted, or expired) when its event is handled
    content = campaign_csv(5)
    reserve(api, content)
    key = upload_key(batch_id_for(content))
    # When the object-created event arrives for the missing object
    with recording("sqs") as log:
        notify(stack, key, len(content))
    # Then the batch says so, wrote nothing, and the same file can be put again and ingested
    status = api.get(f"/uploads/{batch_id_for(content)}").json()
    assert status["state"] == "FAILED" and status["error"]["code"] == CsvErrorCode.UPLOAD_MISSING
    assert _messages_sent(log) == 0
    reserve(api, content)
    put_and_notify(stack, content)
    assert api.get(f"/uploads/{batch_id_for(content)}").json()["state"] == "DONE"


def test_bytes_other_than_the_reserved_file_fail_the_checksum_and_write_nothing(
    api: TestClient, stack: LocalResources, counts_of: CountsOf
) -> None:
    # Given a reservation for one file, and other bytes of the same size put under its key
    declared = campaign_csv(5)
    actual = declared.replace(b"user0@", b"user9@")  # the same size, other bytes
    reserve(api, declared)
    key = upload_key(batch_id_for(declared))
    client("s3").put_object(Bucket=stack.upload_bucket, Key=key, Body=actual)
    # When the object's event is ingested
    notify(stack, key, len(actual))
    # Then the upload fails on the checksum and no row was written
    status = api.get(f"/uploads/{batch_id_for(declared)}").json()
    assert status["state"] == "FAILED" and status["error"]["code"] == CsvErrorCode.CHECKSUM_MISMATCH
    assert counts_of(batch_id_for(declared)) == (0, 0, 0, 0)


def test_a_file_of_another_size_than_declared_fails_and_writes_nothing(
    api: TestClient, stack: LocalResources, counts_of: CountsOf
) -> None:
    # Given a reservation that declares a size of 1 byte for a larger file
    content = campaign_csv(5)
    api.post("/uploads", json={"sha256": sha256_of(content), "size": 1})
    # When the real file is put and ingested
    with recording("sqs") as log:
        put_and_notify(stack, content)
    # Then the upload fails naming both sizes, and no message or row was written
    status = api.get(f"/uploads/{batch_id_for(content)}").json()
    assert status["state"] == "FAILED" and status["error"]["code"] == CsvErrorCode.SIZE_MISMATCH
    assert f"{len(content)} bytes, not the 1 bytes declared" in status["error"]["message"]
    assert _messages_sent(log) == 0 and counts_of(batch_id_for(content)) == (0, 0, 0, 0)


def test_a_reservation_declaring_the_right_size_after_a_mismatch_is_ingested(
    api: TestClient, stack: LocalResources
) -> None:
    # Given an upload that failed because its reservation declared the wrong size
    content = campaign_csv(5)
    api.post("/uploads", json={"sha256": sha256_of(content), "size": len(content) + 1})
    put_and_notify(stack, content)
    # When the client reserves again with the right size, Then it gets an upload URL
    assert reserve(api, content).json()["upload"] is not None
    # When the file is put again, Then it is ingested to the end
    assert put_and_notify(stack, content) == {batch_id_for(content): "done"}


REFUSED_FILES = {
    "json-array": json.dumps([{"email": "a@example.com", "subject": "s", "content": "c"}], indent=2).encode(),
    "json-object": json.dumps({"email": "a@example.com", "subject": "s", "content": "c"}).encode(),
    "json-after-blank-lines": b"\n\n" + json.dumps([{"email": "a@example.com"}]).encode(),
    "missing-column": b"email,subject\nann@example.com,Hello\n",
    "duplicate-column": b"email,subject,content,email\nann@example.com,Hello,Body,x\n",
    "header-only": b"email,subject,content\n",
    "unterminated-quote": b'email,subject,content\nann@example.com,"Hello,Body\n',
    "not-utf8": b"email,subject,content\nann@example.com,Hello,\xff\n",
    "nul-byte": b"email,subject,content\nann@example.com,Hello,B\x00ody\n",
    "whitespace-only": b"  \n\n ",
    "xml": b'<?xml version="1.0"?>\n<rows><row email="ann@example.com"/></rows>\n',
}


@pytest.mark.parametrize("content", REFUSED_FILES.values(), ids=REFUSED_FILES.keys())
def test_a_refused_file_gets_the_same_error_on_both_paths(
    api: TestClient, stack: LocalResources, upload: Upload, content: bytes
) -> None:
    # Given a file the rules refuse whole, and the error a direct upload of it gets
    direct = upload(content).json()["error"]
    # When the same file is reserved, put and ingested as a large upload
    reserve(api, content)
    put_and_notify(stack, content)
    # Then the large upload fails with the same error code
    streamed = api.get(f"/uploads/{batch_id_for(content)}").json()["error"]["code"]
    assert streamed == direct


def test_a_failed_upload_can_be_reserved_again(api: TestClient, stack: LocalResources) -> None:
    # Given a reserved upload that failed because other bytes were put under its key
    declared = campaign_csv(5)
    reserve(api, declared)
    key = upload_key(batch_id_for(declared))
    client("s3").put_object(Bucket=stack.upload_bucket, Key=key, Body=campaign_csv(6))
    notify(stack, key, 1)
    # When the client reserves the same file again
    again = reserve(api, declared)
    # Then it gets a fresh upload URL, and putting the right file is ingested to the end
    assert again.status_code == 200 and again.json()["upload"] is not None
    assert put_and_notify(stack, declared) == {batch_id_for(declared): "done"}


def test_an_object_outside_the_naming_scheme_is_ignored(stack: LocalResources) -> None:
    # Given an object in the upload bucket whose key is not an upload key
    client("s3").put_object(Bucket=stack.upload_bucket, Key="uploads/other.csv", Body=b"x")
    # When its event is handled, Then the ingest ignores it and reports no batch
    assert notify(stack, "uploads/other.csv", 1) == {}


class _PlentyOfTime:
    def seconds_left(self) -> float:
        return 900.0


class _RecordedContinuations:
    def __init__(self) -> None:
        self.batches: list[str] = []

    def continue_later(self, batch_id: str) -> None:
        self.batches.append(batch_id)


@pytest.fixture
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_ingest, "STREAM_WINDOW_ROWS", 40)


def test_an_ingest_short_of_time_checkpoints_and_continues_to_the_same_result(
    api: TestClient, stack: LocalResources, small_windows: None, drain: Any, counts_of: CountsOf
) -> None:
    # Given a reserved file of 150 rows, ingested in windows of 40, with continuations recorded
    content = campaign_csv(150)
    batch_id = batch_id_for(content)
    continuations = _RecordedContinuations()
    s3_ingest.use_continuation(continuations)
    try:
        reserve(api, content)
        # When every invocation has less time left than the margin, so each hands over after one
        # window, and each continuation is invoked in turn until none is left
        with recording("sqs") as log:
            outcomes = [put_and_notify(stack, content, remaining_ms=1_000)]
            while continuations.batches:
                event = {"continueBatch": continuations.batches.pop()}
                outcomes.append(s3_ingest.handler(event, LocalLambdaContext(remaining_ms=1_000)))
    finally:
        s3_ingest.use_continuation(None)
    drain()
    # Then four invocations (three continue, the last is done) queued each row once, and all are SENT
    assert [o[batch_id] for o in outcomes] == ["continue", "continue", "continue", "done"]
    assert _messages_sent(log) == 150
    assert counts_of(batch_id) == (0, 0, 150, 0)


def _crashed_in_its_third_window(api: TestClient, stack: LocalResources, content: bytes) -> str:
    """A streamed ingest (windows of 40 rows) that died in its third window: two checkpoints written,
    part of a window queued. Returns the batch id."""
    reserve(api, content)
    crash_in_third_window: list[Fault] = [None] * 9 + [IngestCrashError("Lambda stopped")]
    with faults("sqs", "SendMessageBatch", crash_in_third_window), pytest.raises(IngestCrashError):
        put_and_notify(stack, content)
    return batch_id_for(content)


def test_a_crash_mid_file_resumes_from_the_checkpoint_without_duplicates(
    api: TestClient, stack: LocalResources, small_windows: None, drain: Any, counts_of: CountsOf
) -> None:
    # Given a streamed ingest of 200 rows (windows of 40) that crashed in its third window
    content = campaign_csv(200)
    batch_id = _crashed_in_its_third_window(api, stack, content)
    progress = api.get(f"/uploads/{batch_id}").json()
    # When S3's retry of the event arrives after the lease lapsed
    expire_lease(stack, batch_id)
    with recording("dynamodb") as log:
        resumed = notify(stack, upload_key(batch_id), len(content))
    drain()
    # Then it resumed after the checkpoint and every row ends SENT, each created once
    assert progress["state"] == "INGESTING" and progress["rowsRead"] == 80
    assert resumed == {batch_id: "done"}
    created = sum(len(p["RequestItems"][stack.table_name]) for p, _ in log.of("BatchWriteItem"))
    assert created == 120
    assert counts_of(batch_id) == (0, 0, 200, 0)
    summary = api.get(f"/uploads/{batch_id}").json()["summary"]
    assert (summary["total"], summary["enqueued"], summary["notEnqueued"]) == (200, 200, 0)


def test_a_resumed_ingest_renews_its_lease_while_it_rereads_the_rows_before_its_checkpoint(
    api: TestClient, stack: LocalResources, small_windows: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an ingest that renews its lease every 20 rows read, crashed in its third window (two
    # checkpoints, 80 rows, behind it), and whose lease has lapsed
    monkeypatch.setattr(stream_ingest, "STREAM_LEASE_RENEW_RECORDS", 20)
    content = campaign_csv(200)
    batch_id = _crashed_in_its_third_window(api, stack, content)
    expire_lease(stack, batch_id)
    # When S3's retry of the event resumes the ingest to the end
    with recording("dynamodb") as log:
        assert notify(stack, upload_key(batch_id), len(content)) == {batch_id: "done"}
    # Then the 80 rows before the checkpoint are read again without a write: 4 renewals (one per 20 rows),
    # then a checkpoint per window of 40 rows after it, each moving the lease on.
    leases = [p["ExpressionAttributeValues"][":lease"]["S"] for p, _ in log.of("UpdateItem") if ":lease" in str(p)]
    assert len(leases) >= 4 + 3 and leases == sorted(leases)


def _put_and_held_by_a_live_ingest(api: TestClient, stack: LocalResources, content: bytes) -> Any:
    """The file reserved and put, and a streamed ingest holding its lease (the holder's record)."""
    batch_id = batch_id_for(content)
    reserve(api, content)
    client("s3").put_object(Bucket=stack.upload_bucket, Key=upload_key(batch_id), Body=content)
    holder = stream_ingest._acquire(batch_id, s3_ingest._gateways().ingest, sleep=lambda _: None)
    assert holder is not None
    return holder


def test_reserving_a_file_that_a_live_ingest_is_reading_gives_no_upload_url(
    api: TestClient, stack: LocalResources
) -> None:
    # Given a file reserved, put, and being read by a live ingest that holds its lease
    content = campaign_csv(10)
    _put_and_held_by_a_live_ingest(api, stack, content)
    # When the client reserves the same file again
    again = reserve(api, content)
    # Then the answer says it is being ingested and gives no upload URL
    assert again.status_code == 200
    assert (again.json()["state"], again.json()["upload"]) == ("INGESTING", None)


def test_an_event_for_a_batch_whose_live_ingest_renews_its_lease_does_nothing(
    api: TestClient, stack: LocalResources
) -> None:
    content = campaign_csv(10)
    batch_id = batch_id_for(content)
    gateways = s3_ingest._gateways()
    # Given a live ingest (it holds the lease) that renews its lease while the duplicate event waits
    holder = _put_and_held_by_a_live_ingest(api, stack, content)

    def holder_renews(_: float) -> None:
        renewed = holder.record._replace(lease_until="2999-01-01T00:00:00.000000Z")
        assert gateways.ingest.batches.checkpoint(renewed, holder.record.lease_until)

    # When the duplicate event arrives
    outcome = stream_ingest.ingest_upload(batch_id, gateways, _PlentyOfTime(), sleep=holder_renews)
    # Then it leaves the batch to its holder
    assert outcome is stream_ingest.StreamOutcome.NOTHING_TO_DO
