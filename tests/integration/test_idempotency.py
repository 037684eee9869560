"""The core promise: one file is one batch, one recipient one send, whatever is retried."""

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

import campaign.services.lease as lease_module
import campaign.services.stream_ingest as stream_ingest
from app.main import create_app
from campaign.aws.batch_counts import BatchCounts
from campaign.aws.batches import Batches
from campaign.aws.clients import client
from campaign.aws.upload_store import upload_key
from campaign.domain.ids import batch_id_for
from campaign.domain.models import BatchState
from campaign.limits import INGEST_LEASE_SECONDS
from scripts.local.provision import LocalResources
from scripts.local.sqs_poller import LocalLambdaContext, receive, sqs_event
from tests.conftest import reset_process_caches
from tests.support import TEST_API_KEY
from tests.support.aws_calls import CallLog, faults, recording
from tests.support.csv_files import campaign_csv
from tests.support.large_uploads import reserve
from tests.support.leases import expire_lease
from tests.support.seed import RETENTION
from worker import s3_ingest
from worker.handler import handler

Upload = Callable[[bytes], Response]


class IngestCrashError(Exception):
    """Stands for the Lambda dying mid-file (timeout, out of memory)."""


def _queue_depth(stack: LocalResources) -> int:
    attributes = client("sqs").get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesDelayed"])


def test_concurrent_identical_uploads_make_one_batch(stack: LocalResources) -> None:
    # Given six clients that upload the same file at the same moment
    content = campaign_csv(15)
    start = threading.Barrier(6)
    answers: list[Response] = []

    def post() -> None:
        api = TestClient(create_app(), headers={"x-api-key": TEST_API_KEY})
        start.wait()
        answers.append(api.post("/upload", files={"file": ("c.csv", content, "text/csv")}))

    # When they all post it at once
    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then exactly one created the batch; each other was told it is a duplicate (the ingest was done)
    # or to come back (it was not); one set of sends exists
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 1 and set(codes) <= {200, 201, 409}, codes
    for answer in answers:
        body = answer.json()
        if answer.status_code == 409:
            assert body["error"] == "ingest_in_progress" and int(answer.headers["retry-after"]) >= 1
        else:
            assert body["batchId"] == batch_id_for(content) and body["duplicate"] is (answer.status_code == 200)
    assert _queue_depth(stack) == 15


def test_each_message_delivered_twice_still_sends_each_row_once(
    upload: Upload, stack: LocalResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a batch in SES mode, and SQS delivering every message twice
    monkeypatch.setenv("SEND_MODE", "ses")
    reset_process_caches()
    upload(campaign_csv(8))
    messages = receive(stack.queue_url, wait_seconds=0)
    # When the worker handles each delivery
    with recording("sesv2") as log:
        handler(sqs_event(messages, stack.queue_arn), LocalLambdaContext())
        handler(sqs_event(messages, stack.queue_arn), LocalLambdaContext())
    # Then SES saw each recipient exactly once
    recipients = [p["Destination"]["ToAddresses"][0] for p, _ in log.of("SendEmail")]
    assert len(messages) == 8
    assert sorted(recipients) == sorted(set(recipients)) and len(recipients) == 8


def _crash_on_call(number: int) -> list[Any]:
    """Let `number - 1` calls through, then die."""
    return [None] * (number - 1) + [IngestCrashError("Lambda stopped")]


def test_a_retry_while_the_first_ingest_holds_its_lease_is_told_when_to_come_back(
    upload: Upload, stack: LocalResources
) -> None:
    # Given an upload whose ingest died mid-file, still holding its lease
    content = campaign_csv(250)
    with faults("sqs", "SendMessageBatch", _crash_on_call(13)):
        crashed = upload(content)
    # When the same file is uploaded again at once
    retried = upload(content)
    # Then the crash was an internal error and the retry is told to come back within the lease, for the same batch
    assert crashed.status_code == 500 and crashed.json()["error"] == "internal_error"
    assert retried.status_code == 409 and retried.json()["error"] == "ingest_in_progress"
    assert 1 <= int(retried.headers["retry-after"]) <= INGEST_LEASE_SECONDS
    assert retried.json()["retryAfterSeconds"] == int(retried.headers["retry-after"])
    assert retried.json()["batchId"] == batch_id_for(content)


@pytest.fixture
def renew_after_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Time passes as if each step took a third of the lease (the renewal is due after every step)."""
    monkeypatch.setattr(lease_module, "_RENEW_AFTER", timedelta(0))


def _lease_renewals(log: CallLog) -> list[str]:
    return [
        params["ExpressionAttributeValues"][":new"]["S"]
        for params, _ in log.of("UpdateItem")
        if params["UpdateExpression"] == "SET leaseUntil = :new"
    ]


def test_a_direct_ingest_renews_its_lease_as_it_progresses(
    upload: Upload, stack: LocalResources, renew_after_every_step: None
) -> None:
    # Given an ingest whose lease renewal is due after every step (the fixture)
    # When a file of 250 rows is uploaded
    with recording("dynamodb") as log:
        assert upload(campaign_csv(250)).status_code == 201
    # Then the lease is renewed once per step of 100 rows, each time further ahead
    renewals = _lease_renewals(log)
    assert len(renewals) == 3  # one per step of 100 rows
    assert renewals == sorted(renewals)


def test_a_direct_ingest_whose_lease_was_taken_over_stops_and_says_so(
    upload: Upload, stack: LocalResources, renew_after_every_step: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an ingest whose lease another ingest takes over before its first renewal
    content = campaign_csv(250)
    renew = Batches.renew

    def taken_over_first(self: Batches, batch_id: str, held: str, lease_until: str) -> bool:
        renew(self, batch_id, held, "2999-01-01T00:00:00.000000Z")  # another ingest took the batch
        return renew(self, batch_id, held, lease_until)

    monkeypatch.setattr(Batches, "renew", taken_over_first)
    # When the file is uploaded
    answer = upload(content)
    # Then the upload stops, told the ingest is in progress, and leaves the batch ingesting for the new holder
    record = Batches(stack.table_name, RETENTION).get(batch_id_for(content))
    assert answer.status_code == 409 and answer.json()["error"] == "ingest_in_progress"
    assert record is not None and record.state is BatchState.INGESTING  # left to the new holder


def test_a_direct_upload_of_a_file_being_streamed_is_told_when_to_come_back(
    api: TestClient, upload: Upload, stack: LocalResources
) -> None:
    # Given a large upload of the file, in the bucket, whose streamed ingest holds the lease
    content = campaign_csv(10)
    reserve(api, content)
    client("s3").put_object(Bucket=stack.upload_bucket, Key=upload_key(batch_id_for(content)), Body=content)
    holder = stream_ingest._acquire(batch_id_for(content), s3_ingest._gateways().ingest, sleep=lambda _: None)
    assert holder is not None  # a live streamed ingest holds the lease
    # When the same file is uploaded directly
    answer = upload(content)
    # Then it is told the ingest is in progress and nothing is queued
    assert answer.status_code == 409 and answer.json()["error"] == "ingest_in_progress"
    assert _queue_depth(stack) == 0


def test_retry_after_a_crash_mid_file_completes_the_batch_without_duplicates(
    upload: Upload, stack: LocalResources, drain: Any
) -> None:
    # Given an ingest that died after about half of the file (some rows queued, some not written)
    content = campaign_csv(250)
    batch_id = batch_id_for(content)
    with faults("sqs", "SendMessageBatch", _crash_on_call(13)):
        assert upload(content).status_code == 500
    drain()  # the worker sends what was queued and recorded before the crash
    expire_lease(stack, batch_id)
    # When the same file is uploaded again after the lease lapsed, and the worker drains the queue
    with recording("sesv2"):
        retried = upload(content)
    drain()
    # Then the batch is complete: every row SENT once, none left PENDING or QUEUED
    listing = BatchCounts(stack.table_name, RETENTION).get(batch_id)
    assert retried.status_code == 200 and retried.json()["duplicate"] is True
    assert listing is not None and listing.counts == (0, 0, 250, 0)


def test_crash_and_retry_in_ses_mode_calls_ses_once_per_row(
    upload: Upload, stack: LocalResources, drain: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SES mode and a file of 120 rows
    monkeypatch.setenv("SEND_MODE", "ses")
    reset_process_caches()
    content = campaign_csv(120)
    # When its ingest dies mid-file, the worker drains, the lease lapses, and the file is uploaded
    # again and drained
    with recording("sesv2") as log:
        with faults("sqs", "SendMessageBatch", _crash_on_call(7)):
            upload(content)
        drain()
        expire_lease(stack, batch_id_for(content))
        upload(content)
        drain()
    # Then SES was called once per row
    recipients = [p["Destination"]["ToAddresses"][0] for p, _ in log.of("SendEmail")]
    assert len(recipients) == len(set(recipients)) == 120
