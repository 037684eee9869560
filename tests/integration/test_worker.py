"""The worker Lambda on real SQS events read back from the emulated queue."""

import email
import email.policy
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from httpx import Response

import worker.handler
from campaign.aws.batch_counts import BatchCounts
from campaign.aws.clients import client
from campaign.aws.dead_letters import DeadLetterQueue
from campaign.aws.items import send_row_from_item
from campaign.aws.send_queue import SendQueue
from campaign.aws.send_rows import Missing, NotClaimable, SendRows
from campaign.config import SettingsError, worker_settings
from campaign.domain.clock import now_iso
from campaign.domain.ids import send_id_for
from campaign.domain.models import SendRow
from campaign.domain.retention import Retention
from campaign.domain.status import EmailStatus, ErrorKind
from campaign.limits import DEFAULT_DEDUPE_WINDOW_DAYS, DEFAULT_RETENTION_DAYS
from campaign.services.redrive import ResendGateways, redrive_dead_letters
from scripts.local.provision import LocalResources
from scripts.local.sqs_poller import LocalLambdaContext, receive, sqs_event
from tests.conftest import reset_process_caches
from tests.support.aws_calls import client_error, faults, recording
from tests.support.csv_files import campaign_csv

Upload = Callable[[bytes], Response]


@pytest.fixture
def ses_mode(stack: LocalResources, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEND_MODE", "ses")
    reset_process_caches()


def _invoke(messages: list[dict[str, Any]], stack: LocalResources) -> Any:
    return worker.handler.handler(sqs_event(messages, stack.queue_arn), LocalLambdaContext(aws_request_id="req-1"))


def _rows(stack: LocalResources, messages: list[dict[str, Any]]) -> list[SendRow]:
    rows = SendRows(stack.table_name)
    found = [rows.get(json.loads(m["Body"])["sendId"]) for m in messages]
    return [row for row in found if row is not None]


def _failures(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def test_batch_of_messages_is_sent_and_reports_no_failures(upload: Upload, stack: LocalResources) -> None:
    # Given three queued sends
    upload(campaign_csv(3))
    messages = receive(stack.queue_url, wait_seconds=0)
    # When the worker handles the SQS batch
    response = _invoke(messages, stack)
    # Then nothing needs redelivery and every row is SENT after one attempt
    assert len(messages) == 3
    assert response == {"batchItemFailures": []}
    assert {(r.status, r.attempts) for r in _rows(stack, messages)} == {(EmailStatus.SENT, 1)}


def test_one_bad_message_fails_alone(upload: Upload, stack: LocalResources) -> None:
    # Given a queued send and a message that is not a send job
    upload(campaign_csv(1))
    client("sqs").send_message(QueueUrl=stack.queue_url, MessageBody="not json")
    messages = receive(stack.queue_url, wait_seconds=0)
    bad = next(m["MessageId"] for m in messages if m["Body"] == "not json")
    # When the worker handles both in one SQS batch
    response = _invoke(messages, stack)
    # Then only the bad message is reported for redelivery
    assert _failures(response) == [bad]


def test_ses_mode_sends_from_the_sender_and_stores_the_message_id(
    upload: Upload, stack: LocalResources, ses_mode: None
) -> None:
    # Given a queued send, in SES mode
    upload(campaign_csv(1))
    messages = receive(stack.queue_url, wait_seconds=0)
    # When the worker handles it
    with recording("sesv2") as log:
        _invoke(messages, stack)
    # Then SES is asked to send from the configured sender to the recipient, and the row keeps SES's message id
    ((params, reply),) = log.of("SendEmail")
    assert params["FromEmailAddress"] == stack.sender_address
    assert params["Destination"] == {"ToAddresses": ["user0@example.com"]}
    assert _rows(stack, messages)[0].provider_message_id == reply["MessageId"]


def test_ses_mode_sends_the_built_message_tagged_with_its_send_through_the_configuration_set(
    upload: Upload, stack: LocalResources, ses_mode: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a configuration set for SES events, and a queued send with HTML content
    monkeypatch.setenv("SES_CONFIGURATION_SET", "campaign-events")
    reset_process_caches()
    upload(b"email,subject,content\nann@example.com,Spring,<p>15% off</p>\n")
    messages = receive(stack.queue_url, wait_seconds=0)
    # When the worker handles it
    with recording("sesv2") as log:
        _invoke(messages, stack)
    # Then the message built for the row goes through the configuration set, tagged with its send and
    # batch, with its headers, one-click unsubscribe, and a text and an HTML part
    ((params, _),) = log.of("SendEmail")
    (row,) = _rows(stack, messages)
    message = email.message_from_bytes(params["Content"]["Raw"]["Data"], policy=email.policy.default)
    assert params["ConfigurationSetName"] == "campaign-events"
    assert params["EmailTags"] == [{"Name": "sendId", "Value": row.send_id}, {"Name": "batchId", "Value": row.batch_id}]
    assert (message["To"], message["Subject"], message["X-Campaign-Send-Id"]) == (
        "ann@example.com",
        "Spring",
        row.send_id,
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"


def test_ses_mode_without_an_unsubscribe_url_refuses_to_start(
    stack: LocalResources, ses_mode: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SES mode without an unsubscribe URL
    monkeypatch.delenv("UNSUBSCRIBE_URL")
    reset_process_caches()
    # When the worker reads its settings, then it refuses, naming the missing setting
    with pytest.raises(SettingsError, match="UNSUBSCRIBE_URL"):
        worker_settings()


def test_ses_mode_sends_an_internationalized_domain_as_punycode(
    upload: Upload, stack: LocalResources, ses_mode: None
) -> None:
    # Given a queued send to an address with an internationalized domain
    upload("email,subject,content\nann@bücher.de,Hello,Body\n".encode())
    messages = receive(stack.queue_url, wait_seconds=0)
    # When the worker handles it
    with recording("sesv2") as log:
        _invoke(messages, stack)
    # Then SES gets the domain as punycode and the row keeps the address as written
    ((params, _),) = log.of("SendEmail")
    assert params["Destination"] == {"ToAddresses": ["ann@xn--bcher-kva.de"]}
    assert _rows(stack, messages)[0].email == "ann@bücher.de"


def test_message_delivered_twice_is_sent_once(upload: Upload, stack: LocalResources, ses_mode: None) -> None:
    # Given one queued send whose message SQS delivers twice
    upload(campaign_csv(1))
    messages = receive(stack.queue_url, wait_seconds=0)
    with recording("sesv2") as log:
        # When both deliveries are handled
        first = _invoke(messages, stack)
        second = _invoke(messages, stack)
    # Then SES was called once and both deliveries succeed (the second sees a final row)
    assert log.count("SendEmail") == 1
    assert _failures(first) == _failures(second) == []


def test_two_workers_racing_on_one_send_send_once(upload: Upload, stack: LocalResources, ses_mode: None) -> None:
    # Given one message handed to several workers at the same moment
    upload(campaign_csv(1))
    messages = receive(stack.queue_url, wait_seconds=0)
    start = threading.Barrier(4)
    results: list[dict[str, Any]] = []

    def work() -> None:
        start.wait()
        results.append(_invoke(messages, stack))

    # When four workers handle it at once
    with recording("sesv2") as log:
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # Then exactly one SES call was made; losers either saw it final or retry later
    assert log.count("SendEmail") == 1
    assert _rows(stack, messages)[0].status is EmailStatus.SENT


def test_permanent_ses_rejection_is_error_and_not_retried(
    upload: Upload, stack: LocalResources, ses_mode: None
) -> None:
    # Given a queued send that SES rejects permanently
    upload(campaign_csv(1))
    messages = receive(stack.queue_url, wait_seconds=0)
    # When the worker handles it
    with faults(
        "sesv2", "SendEmail", [client_error("MessageRejected", "Email address is not verified.")], single_attempt=True
    ):
        response = _invoke(messages, stack)
    # Then the message is not retried and the row ends in error naming the rejection
    row = _rows(stack, messages)[0]
    assert _failures(response) == []
    assert row.status is EmailStatus.ERROR
    assert row.error is not None and "MessageRejected" in row.error


@pytest.mark.parametrize(
    "fault",
    [
        client_error("TooManyRequestsException", "Too many requests"),
        client_error("Throttling", "Maximum sending rate exceeded."),
        client_error("LimitExceededException", "limit"),
        client_error("InternalFailure", "boom", status=500),
    ],
)
def test_transient_ses_failure_is_retried_and_then_sent_once(
    upload: Upload, stack: LocalResources, ses_mode: None, fault: Exception
) -> None:
    # Given a send whose first SES call fails transiently
    upload(campaign_csv(1))
    messages = receive(stack.queue_url, wait_seconds=0)
    with recording("sesv2") as log, faults("sesv2", "SendEmail", [fault], single_attempt=True):
        # When the message is delivered, fails, and is delivered again
        first = _invoke(messages, stack)
        between = _rows(stack, messages)[0]
        second = _invoke(messages, stack)
    # Then the first delivery asks for a retry and leaves the row claimable; the second sends it
    assert _failures(first) == [messages[0]["MessageId"]]
    assert between.status is EmailStatus.QUEUED and between.claimed_at is None and between.error
    assert _failures(second) == []
    row = _rows(stack, messages)[0]
    assert (row.status, row.attempts) == (EmailStatus.SENT, 2)
    assert log.count("SendEmail") == 1  # the faulted call never reached SES


def test_message_whose_row_is_not_written_yet_is_retried_without_sending(stack: LocalResources) -> None:
    # Given a message on the queue whose send row is not written yet
    client("sqs").send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps({"sendId": "f" * 32, "batchId": "b"}))
    messages = receive(stack.queue_url, wait_seconds=0)
    # When the worker handles it
    response = _invoke(messages, stack)
    # Then the message is reported for redelivery
    assert _failures(response) == [messages[0]["MessageId"]]


def test_claim_abandoned_by_a_dead_worker_ends_in_error_not_a_second_send(
    upload: Upload, stack: LocalResources, ses_mode: None
) -> None:
    # Given a row claimed long ago by a worker that never recorded a result
    upload(campaign_csv(1))
    messages = receive(stack.queue_url, wait_seconds=0)
    send_id = json.loads(messages[0]["Body"])["sendId"]
    SendRows(stack.table_name).claim(send_id, "2020-01-01T00:00:00.000000Z")
    # When its message is redelivered
    with recording("sesv2") as log:
        response = _invoke(messages, stack)
    # Then the row is ERROR with the reason and nothing is sent again
    row = _rows(stack, messages)[0]
    assert log.count("SendEmail") == 0
    assert _failures(response) == []
    assert row.status is EmailStatus.ERROR and row.error is not None and "outcome unknown" in row.error


def test_fresh_claim_held_elsewhere_is_retried_later(upload: Upload, stack: LocalResources, ses_mode: None) -> None:
    # Given a queued send whose row another worker has just claimed
    upload(campaign_csv(1))
    messages = receive(stack.queue_url, wait_seconds=0)
    SendRows(stack.table_name).claim(json.loads(messages[0]["Body"])["sendId"], now_iso())
    # When the worker handles its message
    with recording("sesv2") as log:
        response = _invoke(messages, stack)
    # Then nothing is sent and the message is reported for redelivery
    assert log.count("SendEmail") == 0
    assert _failures(response) == [messages[0]["MessageId"]]


def test_message_that_keeps_failing_ends_in_dlq_and_its_row_in_error(
    upload: Upload, stack: LocalResources, ses_mode: None, drain: Any
) -> None:
    # Given SES that throttles every call, and a queue that redelivers at once
    client("sqs").set_queue_attributes(QueueUrl=stack.queue_url, Attributes={"VisibilityTimeout": "0"})
    upload(campaign_csv(1))
    always = [client_error("TooManyRequestsException", "slow down")] * 20
    # When the worker keeps receiving until SQS stops delivering
    with faults("sesv2", "SendEmail", always, single_attempt=True):
        rounds = drain(max_rounds=20)
    # Then after maxReceiveCount deliveries the message is in the DLQ and the row is ERROR
    dead = client("sqs").receive_message(QueueUrl=stack.dlq_url, MaxNumberOfMessages=10)["Messages"]
    row = _rows(stack, dead)[0]
    assert len(rounds) == 5
    assert row.status is EmailStatus.ERROR
    assert row.error is not None and row.error.startswith("gave up after 5 attempts")


def _resend(stack: LocalResources) -> ResendGateways:
    retention = Retention(DEFAULT_DEDUPE_WINDOW_DAYS, DEFAULT_RETENTION_DAYS)
    return ResendGateways(SendRows(stack.table_name), BatchCounts(stack.table_name, retention), retention)


def test_dlq_redrive_sends_a_row_that_gave_up_again_as_a_new_row(
    upload: Upload, stack: LocalResources, ses_mode: None, drain: Any
) -> None:
    # Given a send that exhausted its retries on throttling: row ERROR, message in the DLQ
    client("sqs").set_queue_attributes(QueueUrl=stack.queue_url, Attributes={"VisibilityTimeout": "0"})
    batch_id = upload(campaign_csv(1)).json()["batchId"]
    with faults(
        "sesv2", "SendEmail", [client_error("Throttling", "Maximum sending rate exceeded.")] * 20, single_attempt=True
    ):
        drain(max_rounds=20)
    # When the operator re-drives the DLQ and the worker drains the queue (SES healthy again)
    result = redrive_dead_letters(
        DeadLetterQueue(stack.dlq_url), resend=_resend(stack), queue=SendQueue(stack.queue_url, 0)
    )
    with recording("sesv2") as log:
        drain()
    # Then one SES call sent it as a new row of the batch; the old row stays ERROR and names the new
    # one; the DLQ is empty; the batch counts both rows
    rows = SendRows(stack.table_name)
    old = rows.get(send_id_for(batch_id, "user0@example.com"))
    assert result.requeued == 1
    assert log.count("SendEmail") == 1
    assert old is not None and old.status is EmailStatus.ERROR and old.resent_as is not None
    new = rows.get(old.resent_as)
    assert new is not None and new.status is EmailStatus.SENT and new.resend_of == old.send_id
    assert new.batch_id == batch_id and new.seq >= 1
    assert client("sqs").receive_message(QueueUrl=stack.dlq_url).get("Messages", []) == []
    listing = BatchCounts(stack.table_name, Retention(30, 90)).get(batch_id)
    assert listing is not None and (listing.counts.sent, listing.counts.error, listing.resent) == (1, 1, 1)


def test_dlq_redrive_run_again_after_stopping_midway_resends_once(
    upload: Upload, stack: LocalResources, ses_mode: None, drain: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a send that gave up, and a re-drive that created the new row but stopped before marking
    # the old one and queueing (the operator's laptop went to sleep)
    client("sqs").set_queue_attributes(QueueUrl=stack.queue_url, Attributes={"VisibilityTimeout": "0"})
    batch_id = upload(campaign_csv(1)).json()["batchId"]
    with faults("sesv2", "SendEmail", [client_error("Throttling", "slow down")] * 20, single_attempt=True):
        drain(max_rounds=20)
    # (a dead letter that was received becomes visible again at once, not after the usual minute)
    receive = DeadLetterQueue.receive
    monkeypatch.setattr(DeadLetterQueue, "receive", lambda queue, visibility_seconds=0: receive(queue, 0))
    stop = client_error("InternalServerError", "down", status=500)
    with faults("dynamodb", "UpdateItem", [None, stop] * 10), pytest.raises(ClientError):
        redrive_dead_letters(DeadLetterQueue(stack.dlq_url), resend=_resend(stack), queue=SendQueue(stack.queue_url, 0))
    # When it is run again and the worker drains
    redrive_dead_letters(DeadLetterQueue(stack.dlq_url), resend=_resend(stack), queue=SendQueue(stack.queue_url, 0))
    with recording("sesv2") as log:
        drain()
    # Then the message was sent once, by one new row
    assert log.count("SendEmail") == 1
    old = SendRows(stack.table_name).get(send_id_for(batch_id, "user0@example.com"))
    assert old is not None and old.resent_as is not None
    sent = [r for r in _batch_rows(stack, batch_id) if r.status is EmailStatus.SENT]
    assert [r.send_id for r in sent] == [old.resent_as]


def _batch_rows(stack: LocalResources, batch_id: str) -> list[SendRow]:
    items = client("dynamodb").scan(TableName=stack.table_name)["Items"]
    return [
        send_row_from_item(item)
        for item in items
        if item["pk"]["S"].startswith("SEND#") and item["batchId"]["S"] == batch_id
    ]


def test_dlq_redrive_never_resends_a_permanent_or_unknown_failure(stack: LocalResources, upload: Upload) -> None:
    # Given dead letters whose rows are final for reasons that forbid a resend
    upload(campaign_csv(2))
    messages = receive(stack.queue_url, wait_seconds=0)
    rows = SendRows(stack.table_name)
    for message, kind in zip(messages, (ErrorKind.PERMANENT, ErrorKind.UNKNOWN_OUTCOME), strict=True):
        claim = rows.claim(json.loads(message["Body"])["sendId"], now_iso())
        assert not isinstance(claim, (Missing, NotClaimable))
        rows.finish(claim.row, now_iso(), EmailStatus.ERROR, error="x", error_kind=kind)
        client("sqs").send_message(QueueUrl=stack.dlq_url, MessageBody=message["Body"])
    # When the operator re-drives
    result = redrive_dead_letters(
        DeadLetterQueue(stack.dlq_url), resend=_resend(stack), queue=SendQueue(stack.queue_url, 0)
    )
    # Then nothing is requeued and the rows stay ERROR
    assert (result.requeued, result.dropped_final) == (0, 2)
    assert {r.status for r in _rows(stack, messages)} == {EmailStatus.ERROR}
