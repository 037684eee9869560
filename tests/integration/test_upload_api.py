"""POST /upload: status codes, the summary it answers, and file-level errors that write nothing."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

import campaign.domain.csv_rules as rules
from campaign.aws.clients import client
from campaign.domain.csv_rules import CsvErrorCode
from campaign.limits import MAX_UPLOAD_BYTES, SKIPPED_ROWS_CAP
from scripts.local.provision import LocalResources
from tests.support.aws_calls import client_error, faults
from tests.support.csv_files import campaign_csv

Upload = Callable[[bytes], Response]


def _table_items(stack: LocalResources, prefix: str = "") -> int:
    items = client("dynamodb").scan(TableName=stack.table_name, ProjectionExpression="pk")["Items"]
    return sum(1 for item in items if item["pk"]["S"].startswith(prefix))


def _queued_messages(stack: LocalResources) -> int:
    attributes = client("sqs").get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])["Attributes"]
    return sum(
        int(attributes[name])
        for name in (
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesDelayed",
            "ApproximateNumberOfMessagesNotVisible",
        )
    )


def test_new_file_answers_201_with_its_summary(upload: Upload) -> None:
    # Given a file with two good rows and one bad one
    content = b"email,subject,content\na@example.com,Hi,One\nb@example.com,Hi,Two\nnope,Hi,Three\n"
    # When it is uploaded
    response = upload(content)
    # Then the batch is new and the summary adds up
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "batchId": body["batchId"],
        "total": 3,
        "enqueued": 2,
        "skipped": 1,
        "notEnqueued": 0,
        "alreadyAccepted": 0,
        "duplicate": False,
        "skippedRows": [{"row": 4, "email": "nope", "reason": "invalid_email"}],
        "alreadyAcceptedRows": [],
    }
    assert body["total"] == body["enqueued"] + body["skipped"]


def test_each_accepted_row_becomes_one_message_and_one_row(upload: Upload, stack: LocalResources) -> None:
    # Given a file of five good rows
    # When it is uploaded
    upload(campaign_csv(5))
    # Then five messages are on the queue and five send rows are stored, each with its message key
    assert _queued_messages(stack) == 5
    assert _table_items(stack, "SEND#") == 5
    assert _table_items(stack, "MSG#") == 5


def test_reupload_answers_200_with_the_first_summary_and_enqueues_nothing(
    upload: Upload, stack: LocalResources
) -> None:
    # Given a file uploaded once
    first = upload(campaign_csv(3)).json()
    # When the same bytes are uploaded again
    second = upload(campaign_csv(3))
    # Then it is the same batch, answered with the first upload's counts (which add up to the total)
    # and marked as a duplicate, and nothing more was queued
    assert second.status_code == 200
    assert second.json() == first | {"duplicate": True}
    assert _queued_messages(stack) == 3


def test_skipped_rows_listing_is_capped(upload: Upload) -> None:
    # Given more bad rows than the cap
    content = b"email,subject,content\n" + b"bad,Hi,x\n" * (SKIPPED_ROWS_CAP + 5) + b"ok@example.com,Hi,x\n"
    # When uploaded
    body = upload(content).json()
    # Then every skip is counted but only the cap is listed
    assert body["skipped"] == SKIPPED_ROWS_CAP + 5
    assert len(body["skippedRows"]) == SKIPPED_ROWS_CAP


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", CsvErrorCode.EMPTY_FILE),
        (b"email,subject,content\n", CsvErrorCode.NO_DATA_ROWS),
        (b"email,subject\na@example.com,Hi\n", CsvErrorCode.MISSING_COLUMNS),
        (b"email,subject,content\n\xff\xfe,Hi,x\n", CsvErrorCode.NOT_UTF8),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", CsvErrorCode.NOT_CSV),
        (b'email,subject,content\na@example.com,"Hi,x\n', CsvErrorCode.MALFORMED_CSV),
    ],
)
def test_file_level_error_answers_400_json_and_writes_nothing(
    upload: Upload, stack: LocalResources, content: bytes, code: str
) -> None:
    # Given a file that is empty, headers only, lacking a column, not UTF-8, not CSV, or malformed
    # When it is uploaded
    response = upload(content)
    # Then the answer names the problem and nothing was stored or queued
    assert response.status_code == 400
    assert response.json()["error"] == code
    assert response.json()["message"]
    assert _table_items(stack) == 0
    assert _queued_messages(stack) == 0


def test_missing_column_error_names_the_column(upload: Upload) -> None:
    # Given a file whose header has email and content (in any case) but no subject
    # When it is uploaded
    response = upload(b"Email,Content\na@example.com,x\n")
    # Then the error lists the subject column as missing, and its message says so
    assert response.json()["missingColumns"] == ["subject"]
    assert "subject" in response.json()["message"]


def test_missing_file_field_answers_400(api: TestClient) -> None:
    # Given a multipart body without a `file` field
    # When it is posted to /upload
    response = api.post("/upload", files={"other": ("c.csv", b"email,subject,content\n", "text/csv")})
    # Then the answer is a 400 saying the file is missing
    assert response.status_code == 400
    assert response.json()["error"] == "missing_file"


def test_two_file_fields_answer_400_and_write_nothing(api: TestClient, stack: LocalResources) -> None:
    # Given a multipart body with two fields named `file`, each holding a valid campaign
    files = [
        ("file", ("a.csv", campaign_csv(2), "text/csv")),
        ("file", ("b.csv", b"email,subject,content\nother@example.com,Hi,Body\n", "text/csv")),
    ]
    # When it is posted to /upload
    response = api.post("/upload", files=files)
    # Then it is refused as ambiguous, with a message saying why, and nothing was stored
    assert response.status_code == 400
    assert response.json()["error"] == "duplicate_file_field"
    assert "more than one field named 'file'" in response.json()["message"]
    assert client("dynamodb").scan(TableName=stack.table_name)["Count"] == 0


def test_a_duplicate_answer_adds_up_to_its_total_and_says_it_is_a_duplicate(upload: Upload) -> None:
    # Given a recipient already accepted in an earlier batch, and a file with that row, a new row and a
    # broken address, uploaded once
    upload(b"email,subject,content\nheld@example.com,Hi,Body\n")
    mixed = b"email,subject,content\nheld@example.com,Hi,Body\nnew@example.com,Hi,Body\nbroken,Hi,Body\n"
    first = upload(mixed).json()
    # When the same file is uploaded again
    again = upload(mixed).json()
    # Then the answer is marked a duplicate, repeats the first answer's counts (one of each kind), and
    # those counts add up to its total
    assert again["duplicate"] is True
    assert (again["enqueued"], again["skipped"], again["alreadyAccepted"], again["notEnqueued"]) == (1, 1, 1, 0)
    assert again["total"] == again["enqueued"] + again["skipped"] + again["alreadyAccepted"] + again["notEnqueued"]
    assert again == first | {"duplicate": True}


def test_non_multipart_body_answers_415(api: TestClient) -> None:
    # Given a CSV posted as the raw body (text/csv) rather than as a multipart form
    # When it reaches /upload
    response = api.post("/upload", content=b"email,subject,content\n", headers={"content-type": "text/csv"})
    # Then the answer is a 415, unsupported media type
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


def test_file_over_the_limit_answers_413_and_writes_nothing(upload: Upload, stack: LocalResources) -> None:
    # Given a file one byte over the limit (its Content-Length alone already exceeds the request cap)
    content = campaign_csv(1) + b"x" * (MAX_UPLOAD_BYTES + 1 - len(campaign_csv(1)))
    # When uploaded
    response = upload(content)
    # Then it is refused as too large and nothing was stored
    assert response.status_code == 413
    assert response.json()["error"] in {"payload_too_large", CsvErrorCode.FILE_TOO_LARGE}
    assert _table_items(stack) == 0


def test_file_at_the_limit_without_content_length_is_still_checked(api: TestClient, stack: Any) -> None:
    # Given a chunked request (no Content-Length) whose file exceeds the limit
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n\r\n'
    body += b"email,subject,content\n" + b"a" * MAX_UPLOAD_BYTES + b"\r\n--b--\r\n"

    def chunks() -> Any:
        yield body

    # When it is posted
    response = api.post("/upload", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"})
    # Then the route's own check refuses it
    assert response.status_code == 413
    assert response.json()["error"] == CsvErrorCode.FILE_TOO_LARGE


def test_truncated_multipart_answers_400_json(api: TestClient) -> None:
    # Given a multipart body cut off inside its file part, before the closing boundary
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n\r\nemail,subj'
    # When it is posted to /upload
    response = api.post("/upload", content=body, headers={"content-type": "multipart/form-data; boundary=b"})
    # Then the answer is a client error in JSON, never a server error
    assert 400 <= response.status_code < 500
    assert "error" in response.json()


def test_health_needs_no_aws(api: TestClient) -> None:
    # Given the API (the health check touches no AWS service)
    # When the health endpoint is asked, Then it answers ok
    assert api.get("/health").json() == {"status": "ok"}


def test_docs_and_openapi_are_served(api: TestClient) -> None:
    # Given the API
    # When the docs page is asked for, Then it is served
    assert api.get("/docs").status_code == 200
    # When the OpenAPI document is asked for, Then it describes the upload route
    assert "/upload" in api.get("/openapi.json").json()["paths"]


def test_aws_outage_answers_503_json_and_can_be_retried(upload: Upload, stack: LocalResources) -> None:
    # Given DynamoDB failing the first write with an internal error
    # When a file is uploaded during the outage, and the same file again once it is over
    with faults("dynamodb", "PutItem", [client_error("InternalServerError", "down", status=500)]):
        failed = upload(campaign_csv(2))
    retried = upload(campaign_csv(2))
    # Then the first answer is a 503 in JSON, and the retry creates the batch
    assert failed.status_code == 503 and failed.json()["error"] == "service_unavailable"
    assert retried.status_code == 201


def test_too_many_rows_answers_413_and_writes_nothing(
    upload: Upload, stack: LocalResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a row limit of 10 and a file of 11 rows
    monkeypatch.setattr(rules, "MAX_UPLOAD_ROWS", 10)
    # When the file is uploaded
    response = upload(campaign_csv(11))
    # Then it is refused as a 413 naming the limit, and nothing was stored
    assert response.status_code == 413
    assert response.json()["error"] == CsvErrorCode.TOO_MANY_ROWS and response.json()["limitRows"] == 10
    assert _table_items(stack) == 0
