"""The core promise: one file is one batch, one recipient one send, whatever is retried."""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app.main import create_app
from campaign.aws.batch_counts import BatchCounts
from campaign.aws.clients import client
from campaign.domain.ids import batch_id_for
from campaign.local.provision import LocalResources
from tests.conftest import reset_process_caches
from tests.support import TEST_API_KEY
from tests.support.aws_calls import faults, recording
from tests.support.csv_files import campaign_csv
from tests.support.leases import expire_lease
from tests.support.seed import RETENTION

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

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then exactly one created the batch, the others were told it is a duplicate, and one set of sends exists
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 5 + [201]
    assert {a.json()["batchId"] for a in answers} == {batch_id_for(content)}
    assert [a.json()["duplicate"] for a in answers].count(False) == 1
    assert _queue_depth(stack) == 15


def test_each_message_delivered_twice_still_sends_each_row_once(
    upload: Upload, stack: LocalResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a batch in SES mode, and SQS delivering every message twice
    monkeypatch.setenv("SEND_MODE", "ses")
    reset_process_caches()
    upload(campaign_csv(8))
    from campaign.local.sqs_poller import LocalLambdaContext, receive, sqs_event
    from worker.handler import handler

    messages = receive(stack.queue_url, wait_seconds=0)
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


def test_retry_while_the_first_ingest_holds_its_lease_is_a_duplicate(upload: Upload, stack: LocalResources) -> None:
    content = campaign_csv(250)
    with faults("sqs", "SendMessageBatch", _crash_on_call(13)):
        crashed = upload(content)
    retried = upload(content)
    assert crashed.status_code == 500 and crashed.json()["error"] == "internal_error"
    assert retried.status_code == 200 and retried.json()["duplicate"] is True and retried.json()["enqueued"] == 0


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
    monkeypatch.setenv("SEND_MODE", "ses")
    reset_process_caches()
    content = campaign_csv(120)
    with recording("sesv2") as log:
        with faults("sqs", "SendMessageBatch", _crash_on_call(7)):
            upload(content)
        drain()
        expire_lease(stack, batch_id_for(content))
        upload(content)
        drain()
    recipients = [p["Destination"]["ToAddresses"][0] for p, _ in log.of("SendEmail")]
    assert len(recipients) == len(set(recipients)) == 120
