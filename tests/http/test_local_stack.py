"""The local stack itself (`make run`): its worker drains the queue, its API keeps answering, and
Ctrl-C stops it cleanly.

Both behaviours once failed on `make run` only, where POWERTOOLS_METRICS_NAMESPACE was unset and
every Powertools metric flush raised (Terraform sets it on the Lambdas).
"""

import time
from pathlib import Path

import boto3
import httpx

from scripts.local.stack import LiveStack, local_stack
from tests.http.helpers import COUNTS, QUEUE_NAME, batch, batch_id_of, graphql

FINAL_WITHIN_SECONDS = 30
QUEUE_EMPTY_WITHIN_SECONDS = 15
READY_WITHIN_SECONDS = 30  # a poll cycle deletes what it handled within a second or two


def _wait_until_final(api: httpx.Client, batch_id: str, rows: int) -> None:
    """Until the batch's counts (kept by the stream consumer) show every row final."""
    deadline = time.monotonic() + FINAL_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if batch(api, batch_id) is not None:
            counts = graphql(api, COUNTS, {"b": batch_id})["batch"]["counts"]
            if counts["sent"] + counts["error"] == rows and counts["pending"] == counts["queued"] == 0:
                return
        time.sleep(0.5)
    raise AssertionError(f"the batch's rows did not reach a final status within {FINAL_WITHIN_SECONDS} s")


def test_the_worker_deletes_the_messages_of_the_rows_it_finished(api: httpx.Client, stack: LiveStack) -> None:
    # Given a three-row upload whose rows all reached a final status
    content = b"email,subject,content\n" + b"".join(f"drain.{i}@example.com,Hi,Body\n".encode() for i in range(3))
    assert api.post("/upload", files={"file": ("drain.csv", content, "text/csv")}).status_code == 201
    _wait_until_final(api, batch_id_of(content), rows=3)

    # When the send queue is inspected
    sqs = boto3.client(
        "sqs",
        endpoint_url=stack.emulator_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    queue_url = sqs.get_queue_url(QueueName=QUEUE_NAME)["QueueUrl"]
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    deadline = time.monotonic() + QUEUE_EMPTY_WITHIN_SECONDS
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    while any(attributes[name] != "0" for name in names) and time.monotonic() < deadline:
        time.sleep(0.5)
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]

    # Then no message is left, visible or in flight
    assert attributes == dict.fromkeys(names, "0")


def test_one_api_process_serves_more_than_a_hundred_uploads(api: httpx.Client) -> None:
    # Given the API process (metrics pile up in it: uvicorn has no per-invocation flush)
    # When it gets 110 new uploads in a row, crossing Powertools' auto-flush at 100 values per metric
    statuses = []
    for i in range(110):
        content = f"email,subject,content\nmany.{i}@example.com,Hi,Body\n".encode()
        statuses.append(api.post("/upload", files={"file": ("many.csv", content, "text/csv")}).status_code)

    # Then every one is a new batch
    assert statuses == [201] * 110


def test_ctrl_c_stops_the_stack_without_a_traceback(tmp_path: Path) -> None:
    # Given a local stack started as `make run` starts it, its worker and pollers running
    log = tmp_path / "run.log"
    with local_stack("stop-test-key", log):
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        while "Ctrl-C stops everything" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # every background poller has made requests
    # When leaving the block sent its process group Ctrl-C, as a terminal does
    output = log.read_text()
    # Then it said it was stopping, and no poller failed on the way out as the emulator went away
    assert "stopping…" in output
    assert "Traceback" not in output
