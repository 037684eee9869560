"""What operators see: EMF metrics with the right names and dimensions, JSON logs that carry the
correlation ids, and no addresses, bodies or keys in clear."""

import io
import json
from typing import Any

import pytest

import worker.handler
from campaign.observability import mask_emails
from scripts.local.provision import LocalResources
from scripts.local.sqs_poller import LocalLambdaContext, receive, sqs_event
from tests.conftest import reset_process_caches
from tests.support import TEST_API_KEY
from tests.support.apigw import http_api_event, multipart
from tests.support.aws_calls import client_error, faults
from tests.support.log_lines import json_lines


def _emf(documents: list[dict[str, Any]]) -> dict[str, set[tuple[str, ...]]]:
    """Metric name → the dimension sets it was published with."""
    found: dict[str, set[tuple[str, ...]]] = {}
    for doc in (d for d in documents if "_aws" in d):
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            dims = tuple(sorted(d for dim_set in directive["Dimensions"] for d in dim_set))
            for metric in directive["Metrics"]:
                found.setdefault(metric["Name"], set()).add(dims)
    return found


def _upload_through_lambda(content: bytes) -> dict[str, Any]:
    # Imported here, not at the top: the module builds the app from the environment when imported,
    # and that environment is the one the stack fixture sets (at collection time it raises SettingsError)
    from app.handler import handler

    body, content_type = multipart("file", "c.csv", content)
    event = http_api_event("POST", "/upload", body=body, headers={"content-type": content_type})
    response: dict[str, Any] = handler(
        event, LocalLambdaContext(aws_request_id="api-request-1", function_name="ingestor")
    )
    return response


CSV = b"email,subject,content\nann@example.com,Hi,Secret body text\nbad,Hi,x\nbob@example.com,,x\n"


def test_ingest_publishes_rows_and_duration_metrics_with_skip_reasons(
    stack: LocalResources, capfd: pytest.CaptureFixture[str]
) -> None:
    # Given a file with a good row, an invalid address and a row without a subject
    # When it is uploaded through the API Lambda
    _upload_through_lambda(CSV)
    # Then the ingest publishes rows accepted, not enqueued and its duration, and skipped rows by reason
    metrics = _emf(json_lines(capfd.readouterr().out))
    assert {"RowsAccepted", "RowsNotEnqueued", "IngestDuration"} <= set(metrics)
    assert metrics["RowsSkipped"] == {("reason", "service")}


def test_worker_publishes_sent_failed_and_latency_metrics(
    stack: LocalResources, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two queued sends in SES mode, the first of which SES will reject
    monkeypatch.setenv("SEND_MODE", "ses")
    reset_process_caches()
    _upload_through_lambda(b"email,subject,content\na@example.com,Hi,x\nb@example.com,Hi,y\n")
    messages = receive(stack.queue_url, wait_seconds=0)
    capfd.readouterr()
    # When the worker handles them
    with faults("sesv2", "SendEmail", [client_error("MessageRejected", "no")], single_attempt=True):
        worker.handler.handler(sqs_event(messages, stack.queue_arn), LocalLambdaContext(aws_request_id="w-1"))
    # Then it publishes sent and SES latency metrics, and failures by kind
    metrics = _emf(json_lines(capfd.readouterr().out))
    assert {"EmailsSent", "SesLatency"} <= set(metrics)
    assert metrics["EmailsFailed"] == {("kind", "service")}


def test_worker_log_lines_carry_send_batch_and_request_ids(stack: LocalResources, logs: io.StringIO) -> None:
    # Given one queued send, and the log buffer emptied of the upload's lines
    _upload_through_lambda(b"email,subject,content\na@example.com,Hi,x\n")
    messages = receive(stack.queue_url, wait_seconds=0)
    logs.truncate(0)
    # When the worker handles it in invocation w-42
    worker.handler.handler(sqs_event(messages, stack.queue_arn), LocalLambdaContext(aws_request_id="w-42"))
    # Then every log line it wrote carries the invocation's request id and the send's and batch's ids
    lines = [d for d in json_lines(logs.getvalue()) if "message" in d and d.get("level")]
    sent = json.loads(messages[0]["Body"])
    assert lines
    for line in lines:
        assert line["function_request_id"] == "w-42"
        assert (line["sendId"], line["batchId"]) == (sent["sendId"], sent["batchId"])


def test_api_log_lines_carry_batch_and_correlation_ids(stack: LocalResources, logs: io.StringIO) -> None:
    # Given an API Gateway event with its request id
    # When a file is uploaded through the API Lambda
    response = _upload_through_lambda(b"email,subject,content\na@example.com,Hi,x\n")
    # Then the "upload ingested" line carries the batch id, the Lambda request id and the gateway's
    # request id as correlation id
    batch_id = json.loads(response["body"])["batchId"]
    ingested = [d for d in json_lines(logs.getvalue()) if d.get("message") == "upload ingested"]
    assert ingested and ingested[0]["batchId"] == batch_id
    assert ingested[0]["function_request_id"] == "api-request-1"
    assert ingested[0]["correlation_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def test_logs_hold_no_address_body_or_api_key_in_clear(
    stack: LocalResources, capfd: pytest.CaptureFixture[str], logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SES mode, where SES errors quote the address, and a file with addresses and a body
    monkeypatch.setenv("SEND_MODE", "ses")
    reset_process_caches()
    # When a file is uploaded and its sends handled, the first rejected with such an error
    _upload_through_lambda(CSV)
    messages = receive(stack.queue_url, wait_seconds=0)
    rejection = client_error("MessageRejected", "Email address is not verified: ann@example.com")
    with faults("sesv2", "SendEmail", [rejection], single_attempt=True):
        worker.handler.handler(sqs_event(messages, stack.queue_arn), LocalLambdaContext())
    # Then the logs hold the address only masked, and no body text or API key
    out = capfd.readouterr()
    text = out.out + out.err + logs.getvalue()
    assert "a***@example.com" in text  # the SES error was logged, masked
    assert "ann@example.com" not in text and "bob@example.com" not in text
    assert "Secret body text" not in text
    assert TEST_API_KEY not in text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("to ann.lee@example.com failed", "to a***@example.com failed"),
        ('{"email": "Bob+tag@Mail.Example.org"}', '{"email": "B***@Mail.Example.org"}'),
        ("no address here", "no address here"),
    ],
)
def test_mask_emails_keeps_first_character_and_domain(text: str, masked: str) -> None:
    # Given a log text with an address in it, or none
    # When its addresses are masked, Then each keeps its first character and domain, the rest unchanged
    assert mask_emails(text) == masked
