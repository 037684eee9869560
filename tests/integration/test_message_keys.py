"""One email per recipient and message, whatever file it arrives in (and through either upload path).

A message is (recipient, subject, content). An upload whose row carries a message an earlier upload
accepted within the deduplication window does not queue it again, and says which batch holds it.
"""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app.main import create_app
from campaign.aws.clients import client
from campaign.aws.items import to_attributes
from campaign.aws.table_schema import ACCEPTED_UNTIL, MESSAGE_PREFIX
from campaign.domain.ids import batch_id_for
from campaign.limits import SKIPPED_ROWS_CAP
from scripts.local.provision import LocalResources
from tests.conftest import reset_process_caches
from tests.support import TEST_API_KEY
from tests.support.aws_calls import recording
from tests.support.csv_files import campaign_csv
from tests.support.large_uploads import put_and_notify, reserve

Upload = Callable[[bytes], Response]
COUNTS = ("enqueued", "skipped", "notEnqueued", "alreadyAccepted")


@pytest.fixture
def ses_mode(stack: LocalResources, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEND_MODE", "ses")
    reset_process_caches()


def _emails_sent(drain: Any) -> list[str]:
    """Run the worker until the queue is empty; every recipient SES was asked to mail."""
    with recording("sesv2") as log:
        drain()
    return [params["Destination"]["ToAddresses"][0] for params, _ in log.of("SendEmail")]


def _adds_up(body: dict[str, Any]) -> bool:
    return bool(body["total"] == sum(body[name] for name in COUNTS))


def _resaved(content: bytes) -> bytes:
    """The same list saved again by a spreadsheet: a BOM, CRLF line endings, a capitalised header."""
    text = content.decode().replace("email,subject,content", "Email,Subject,Content", 1)
    return b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()


def test_a_list_saved_again_by_a_spreadsheet_mails_no_one_twice(upload: Upload, drain: Any, ses_mode: None) -> None:
    # Given 20 recipients uploaded and sent
    first = upload(campaign_csv(20)).json()
    assert len(_emails_sent(drain)) == 20
    # When the same list, saved again by a spreadsheet, is uploaded
    again = upload(_resaved(campaign_csv(20)))
    # Then it is a new file (a new batch) whose every row is reported as accepted by the first upload
    body = again.json()
    assert again.status_code == 201 and body["batchId"] != first["batchId"]
    assert (body["enqueued"], body["alreadyAccepted"]) == (0, 20)
    assert {row["batchId"] for row in body["alreadyAcceptedRows"]} == {first["batchId"]}
    assert [row["row"] for row in body["alreadyAcceptedRows"]] == list(range(2, 22))
    assert _adds_up(body)
    # And nobody gets a second email
    assert _emails_sent(drain) == []


def test_five_copies_of_one_list_send_one_email_each(upload: Upload, drain: Any, ses_mode: None) -> None:
    # Given five files holding one list: LF, a trailing blank line, header case, CRLF, and a BOM
    lf = campaign_csv(10)
    copies = [lf, lf + b"\n", lf.replace(b"email,", b"EMAIL,", 1), lf.replace(b"\n", b"\r\n"), b"\xef\xbb\xbf" + lf]
    # When all are uploaded and the worker sends
    answers = [upload(copy).json() for copy in copies]
    sent = _emails_sent(drain)
    # Then five batches, but ten emails: one per recipient
    assert len({answer["batchId"] for answer in answers}) == 5
    assert [answer["enqueued"] for answer in answers] == [10, 0, 0, 0, 0]
    assert sorted(sent) == sorted(f"user{i}@example.com" for i in range(10))


def test_a_corrected_file_sends_only_the_corrected_rows(upload: Upload, drain: Any, ses_mode: None) -> None:
    # Given 13 rows, 3 with broken addresses, uploaded and sent
    good = campaign_csv(13).decode().splitlines()
    broken = [line.replace("@", "(at)") if i in (3, 7, 11) else line for i, line in enumerate(good)]
    first = upload(("\n".join(broken) + "\n").encode()).json()
    assert (first["enqueued"], first["skipped"]) == (10, 3)
    assert len(_emails_sent(drain)) == 10
    # When the three addresses are fixed and the file uploaded again
    corrected = upload(("\n".join(good) + "\n").encode()).json()
    # Then only those three are queued and sent; the ten others name the first batch
    assert (corrected["enqueued"], corrected["alreadyAccepted"], corrected["skipped"]) == (3, 10, 0)
    assert sorted(_emails_sent(drain)) == ["user10@example.com", "user2@example.com", "user6@example.com"]
    assert {row["batchId"] for row in corrected["alreadyAcceptedRows"]} == {first["batchId"]}


@pytest.mark.parametrize("change", ["subject", "content"])
def test_a_changed_subject_or_content_is_a_new_message(upload: Upload, drain: Any, ses_mode: None, change: str) -> None:
    # Given a list uploaded and sent
    upload(campaign_csv(4))
    _emails_sent(drain)
    # When the same people are sent a message with another subject (or body)
    changed = campaign_csv(4, subject="Reminder") if change == "subject" else campaign_csv(4).replace(b"Body", b"Note")
    body = upload(changed).json()
    # Then they get it: that is how to mail the same people again
    assert (body["enqueued"], body["alreadyAccepted"]) == (4, 0)
    assert len(_emails_sent(drain)) == 4


def test_a_message_accepted_longer_ago_than_the_window_is_sent_again(
    upload: Upload, stack: LocalResources, drain: Any, ses_mode: None
) -> None:
    # Given a list sent once, whose message keys have passed the deduplication window (they stay in
    # the table until the retention ends)
    upload(campaign_csv(3))
    _emails_sent(drain)
    ddb = client("dynamodb")
    for item in ddb.scan(TableName=stack.table_name)["Items"]:
        if item["pk"]["S"].startswith(MESSAGE_PREFIX):
            ddb.update_item(
                TableName=stack.table_name,
                Key={"pk": item["pk"]},
                UpdateExpression="SET #x = :past",
                ExpressionAttributeNames={"#x": ACCEPTED_UNTIL},
                ExpressionAttributeValues=to_attributes({":past": 1_000_000_000}),
            )
    # When the same list is uploaded in another file
    body = upload(_resaved(campaign_csv(3))).json()
    # Then it is sent again
    assert (body["enqueued"], body["alreadyAccepted"]) == (3, 0)
    assert len(_emails_sent(drain)) == 3


def test_a_row_accepted_through_the_large_upload_path_is_not_queued_by_a_direct_upload(
    api: TestClient, stack: LocalResources, upload: Upload, drain: Any, ses_mode: None
) -> None:
    # Given a list ingested through POST /uploads and S3
    streamed = campaign_csv(30)
    reserve(api, streamed)
    assert put_and_notify(stack, streamed) == {batch_id_for(streamed): "done"}
    # When an overlapping list (rows 20 to 39) is uploaded directly
    body = upload(campaign_csv(20, start=20)).json()
    # Then the ten shared rows name the streamed batch; everyone gets one email
    assert (body["enqueued"], body["alreadyAccepted"]) == (10, 10)
    assert {row["batchId"] for row in body["alreadyAcceptedRows"]} == {batch_id_for(streamed)}
    sent = _emails_sent(drain)
    assert sorted(sent) == sorted(set(sent)) and len(sent) == 40


def test_a_streamed_file_skips_rows_a_direct_upload_accepted(
    api: TestClient, stack: LocalResources, upload: Upload
) -> None:
    # Given ten rows accepted by a direct upload
    direct = upload(campaign_csv(10)).json()
    # When a file of fifteen rows holding them is ingested as a large upload
    streamed = campaign_csv(15)
    reserve(api, streamed)
    put_and_notify(stack, streamed)
    # Then the five new rows are enqueued and the ten are reported as accepted by the direct upload's batch
    summary = api.get(f"/uploads/{batch_id_for(streamed)}").json()["summary"]
    assert (summary["enqueued"], summary["alreadyAccepted"]) == (5, 10)
    assert {row["batchId"] for row in summary["alreadyAcceptedRows"]} == {direct["batchId"]}
    assert _adds_up(summary)


def _race_both_paths(stack: LocalResources, direct: bytes, streamed: bytes) -> None:
    """Upload one file directly and put the other through S3, starting at the same moment."""
    api = TestClient(create_app(), headers={"x-api-key": TEST_API_KEY})
    reserve(api, streamed)
    client("s3")  # build the shared client before the threads race to
    start = threading.Barrier(2)

    def post() -> None:
        start.wait()
        assert api.post("/upload", files={"file": ("d.csv", direct, "text/csv")}).status_code == 201

    def stream() -> None:
        start.wait()
        put_and_notify(stack, streamed)

    threads = [threading.Thread(target=post), threading.Thread(target=stream)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_two_files_sharing_rows_uploaded_at_once_through_both_paths_mail_each_shared_row_once(
    stack: LocalResources, drain: Any, ses_mode: None
) -> None:
    # Given two different files that share 60 of their rows, one uploaded directly and the other
    # through S3, both at the same moment (three rounds, so that the race is run more than once)
    sent: list[str] = []
    # When they race, and the worker drains the queue after each round
    for round_ in range(3):
        direct = campaign_csv(100, start=round_ * 1000, subject=f"Round {round_}")
        streamed = campaign_csv(100, start=round_ * 1000 + 40, subject=f"Round {round_}")
        _race_both_paths(stack, direct, streamed)
        sent += _emails_sent(drain)
    # Then each of the 140 recipients of a round got one email
    assert len(sent) == len(set(sent)) == 3 * 140


def test_rows_accepted_elsewhere_are_listed_up_to_the_cap_and_all_counted(upload: Upload) -> None:
    # Given a file accepted once, with more rows than the skipped-rows listing holds
    upload(campaign_csv(SKIPPED_ROWS_CAP + 30))
    # When the same rows are uploaded again in a resaved file
    body = upload(_resaved(campaign_csv(SKIPPED_ROWS_CAP + 30))).json()
    # Then every row is counted as already accepted and the listing stops at its cap
    assert body["alreadyAccepted"] == SKIPPED_ROWS_CAP + 30
    assert len(body["alreadyAcceptedRows"]) == SKIPPED_ROWS_CAP


def test_a_duplicate_of_a_file_answers_with_the_first_uploads_counts_which_add_up(upload: Upload) -> None:
    # Given a file of eight rows, five of them accepted before, uploaded once
    upload(campaign_csv(5))
    partly = upload(campaign_csv(8)).json()
    # When the same file is uploaded again
    again = upload(campaign_csv(8)).json()
    # Then the duplicate answers the first upload's counts, which add up
    assert again == partly | {"duplicate": True}
    assert (again["enqueued"], again["alreadyAccepted"]) == (3, 5) and _adds_up(again)


def test_two_different_files_sharing_rows_uploaded_at_the_same_moment_split_the_shared_rows(
    stack: LocalResources, drain: Any, ses_mode: None
) -> None:
    # Given four files, each sharing half of its 200 rows with the next, uploaded at the same moment
    files = [campaign_csv(200, start=100 * i, subject="Race") for i in range(4)]
    start = threading.Barrier(len(files))
    answers: list[dict[str, Any]] = []

    def post(content: bytes) -> None:
        api = TestClient(create_app(), headers={"x-api-key": TEST_API_KEY})
        start.wait()
        answers.append(api.post("/upload", files={"file": ("r.csv", content, "text/csv")}).json())

    # When they are all posted at once
    threads = [threading.Thread(target=post, args=(content,)) for content in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every recipient is queued by exactly one of them, the others saying which, and mailed once
    assert sum(answer["enqueued"] for answer in answers) == 500
    assert sum(answer["alreadyAccepted"] for answer in answers) == 300
    assert all(_adds_up(answer) for answer in answers)
    sent = _emails_sent(drain)
    assert len(sent) == len(set(sent)) == 500
