"""The worker checks the suppression list again before sending, once per SQS batch: a recipient
suppressed after the ingest queued the send is not mailed, and the row says why."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from httpx import Response

import worker.handler
from campaign.aws.batch_counts import BatchCounts
from campaign.aws.clients import client
from campaign.aws.dead_letters import DeadLetterQueue
from campaign.aws.send_queue import SendQueue
from campaign.aws.send_rows import SendRows
from campaign.aws.suppressions import Suppressions
from campaign.aws.table_schema import SEND_PREFIX, SUPPRESSION_PREFIX
from campaign.domain.models import SendRow, SuppressionReason
from campaign.domain.status import EmailStatus, ErrorKind
from campaign.services.redrive import ResendGateways, redrive_dead_letters
from scripts.local.provision import LocalResources
from scripts.local.sqs_poller import LocalLambdaContext, receive, sqs_event
from tests.conftest import reset_process_caches
from tests.support.aws_calls import client_error, faults, recording
from tests.support.csv_files import campaign_csv, csv_of
from tests.support.seed import RETENTION

Upload = Callable[[bytes], Response]


@pytest.fixture
def ses_mode(stack: LocalResources, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEND_MODE", "ses")
    reset_process_caches()


@pytest.fixture
def suppressions(stack: LocalResources) -> Suppressions:
    return Suppressions(stack.table_name)


def _invoke(messages: list[dict[str, Any]], stack: LocalResources, remaining_ms: int = 30_000) -> Any:
    context = LocalLambdaContext(aws_request_id="req-1", remaining_ms=remaining_ms)
    return worker.handler.handler(sqs_event(messages, stack.queue_arn), context)


def _row_of(stack: LocalResources, message: dict[str, Any]) -> SendRow:
    row = SendRows(stack.table_name).get(json.loads(message["Body"])["sendId"])
    assert row is not None
    return row


def _by_email(stack: LocalResources, messages: list[dict[str, Any]]) -> dict[str, SendRow]:
    return {row.email: row for row in (_row_of(stack, m) for m in messages)}


def _failures(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def _recipients(log: Any) -> list[str]:
    return [address for params, _ in log.of("SendEmail") for address in params["Destination"]["ToAddresses"]]


def test_a_recipient_suppressed_after_ingest_is_not_sent_and_its_row_says_why(
    upload: Upload, stack: LocalResources, ses_mode: None, suppressions: Suppressions
) -> None:
    # Given two queued sends, one of whose recipients is suppressed after the ingest
    upload(campaign_csv(2))
    suppressions.add("user0@example.com", SuppressionReason.UNSUBSCRIBED, "unsubscribe link")
    messages = receive(stack.queue_url, wait_seconds=0)
    # When the worker takes the batch
    with recording("sesv2") as log:
        response = _invoke(messages, stack)
    # Then only the other recipient is mailed; the suppressed row ends in error saying why, unclaimed and unsent
    rows = _by_email(stack, messages)
    suppressed = rows["user0@example.com"]
    assert _failures(response) == []
    assert _recipients(log) == ["user1@example.com"]
    assert (suppressed.status, suppressed.error, suppressed.error_kind) == (
        EmailStatus.ERROR,
        "suppressed: UNSUBSCRIBED",
        ErrorKind.SUPPRESSED,
    )
    assert suppressed.provider_message_id is None and suppressed.claimed_at is None
    assert rows["user1@example.com"].status is EmailStatus.SENT


def test_a_suppressed_row_is_counted_as_error_in_its_batch(
    upload: Upload, stack: LocalResources, suppressions: Suppressions, drain: Any
) -> None:
    # Given three queued sends, one of whose recipients is suppressed after the ingest
    batch_id = upload(campaign_csv(3)).json()["batchId"]
    suppressions.add("user2@example.com", SuppressionReason.COMPLAINT, "ses complaint 1")
    # When the worker sends the batch
    drain()
    # Then the batch counts two sent and one error
    listing = BatchCounts(stack.table_name, RETENTION).get(batch_id)
    assert listing is not None
    assert (listing.counts.sent, listing.counts.error) == (2, 1)


def test_the_suppression_list_is_read_once_per_batch_for_its_claimed_recipients(
    upload: Upload, stack: LocalResources, ses_mode: None
) -> None:
    # Given a batch of 25 queued sends
    upload(campaign_csv(25))
    messages = receive(stack.queue_url, wait_seconds=0)
    # When the worker takes the batch
    with recording("dynamodb", "sesv2") as log:
        _invoke(messages, stack)
    # Then one BatchGetItem reads the suppression list for all 25 recipients (the other reads the
    # providers' circuit breakers), and each row costs its claim, its send and its result
    suppression_reads = [
        keys
        for params, _ in log.of("BatchGetItem")
        for keys in params["RequestItems"].values()
        if any(key["pk"]["S"].startswith(SUPPRESSION_PREFIX) for key in keys["Keys"])
    ]
    assert len(messages) == 25
    assert [len(keys["Keys"]) for keys in suppression_reads] == [25]
    row_updates = [p for p, _ in log.of("UpdateItem") if p["Key"]["pk"]["S"].startswith(SEND_PREFIX)]
    assert len(row_updates) == 50
    # (the other UpdateItems reserve the 25 send tokens: two for a bucket never written before;
    # GetAccount reads the account's rate once per container)
    assert log.by_operation() == {"UpdateItem": 52, "SendEmail": 25, "BatchGetItem": 2, "GetAccount": 1}


def test_two_messages_for_one_recipient_in_a_batch_ask_the_list_about_it_once(
    upload: Upload, stack: LocalResources
) -> None:
    # Given two queued messages, from two uploads, to the same recipient
    upload(csv_of([("ann@example.com", "First", "Hello")]))
    upload(csv_of([("ann@example.com", "Second", "Hello")]))
    messages = receive(stack.queue_url, wait_seconds=0)
    # When the worker takes them in one batch
    with recording("dynamodb") as log:
        response = _invoke(messages, stack)
    # Then both are handled and the suppression list is asked about the recipient once
    ((params, _),) = log.of("BatchGetItem")
    assert _failures(response) == []
    assert [len(keys["Keys"]) for keys in params["RequestItems"].values()] == [1]


def test_a_row_ended_by_suppression_is_not_resent_by_the_dead_letter_redrive(
    upload: Upload, stack: LocalResources, suppressions: Suppressions
) -> None:
    # Given a row ended in error by suppression, and its message on the dead-letter queue
    upload(campaign_csv(1))
    suppressions.add("user0@example.com", SuppressionReason.MANUAL, "api")
    messages = receive(stack.queue_url, wait_seconds=0)
    _invoke(messages, stack)
    client("sqs").send_message(QueueUrl=stack.dlq_url, MessageBody=messages[0]["Body"])
    # When the dead letters are re-driven
    resend = ResendGateways(SendRows(stack.table_name), BatchCounts(stack.table_name, RETENTION), RETENTION)
    result = redrive_dead_letters(DeadLetterQueue(stack.dlq_url), resend=resend, queue=SendQueue(stack.queue_url, 0))
    # Then the message is dropped as final and the row is not resent
    assert (result.requeued, result.dropped_final) == (0, 1)
    assert _row_of(stack, messages[0]).resent_as is None


def test_an_unreadable_suppression_list_gives_every_claim_back_and_sends_nothing(
    upload: Upload, stack: LocalResources, ses_mode: None
) -> None:
    # Given three queued sends, and a suppression list that cannot be read
    upload(campaign_csv(3))
    messages = receive(stack.queue_url, wait_seconds=0)
    down = client_error("InternalServerError", "down", status=500)
    # (the batch's first BatchGetItem reads the providers' circuit breakers, the second the list)
    # When the worker takes the batch
    with recording("sesv2") as log, faults("dynamodb", "BatchGetItem", [None, down]):
        response = _invoke(messages, stack)
    # Then every message is reported failed, nothing is sent, and each row is back to QUEUED, unclaimed, saying why
    rows = _by_email(stack, messages)
    assert sorted(_failures(response)) == sorted(m["MessageId"] for m in messages)
    assert log.count("SendEmail") == 0
    assert {(r.status, r.claimed_at, r.error) for r in rows.values()} == {
        (EmailStatus.QUEUED, None, "suppression list not readable")
    }


def test_claims_given_back_are_sent_on_the_next_delivery(upload: Upload, stack: LocalResources) -> None:
    # Given two sends whose claims were given back because the suppression list could not be read
    upload(campaign_csv(2))
    messages = receive(stack.queue_url, wait_seconds=0)
    with faults("dynamodb", "BatchGetItem", [client_error("InternalServerError", "down", status=500)]):
        _invoke(messages, stack)
    # When the same messages are delivered again
    response = _invoke(messages, stack)
    # Then both are sent, on their second attempt
    assert _failures(response) == []
    assert {(r.status, r.attempts) for r in _by_email(stack, messages).values()} == {(EmailStatus.SENT, 2)}


def test_on_the_last_delivery_an_unreadable_list_ends_the_row_in_error_that_a_redrive_may_resend(
    upload: Upload, stack: LocalResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a queue allowing one receive, a queued send, and a suppression list that cannot be read
    monkeypatch.setenv("MAX_RECEIVE_COUNT", "1")
    reset_process_caches()
    upload(campaign_csv(1))
    messages = receive(stack.queue_url, wait_seconds=0)
    # When the worker takes the message on its last delivery
    with faults("dynamodb", "BatchGetItem", [client_error("InternalServerError", "down", status=500)]):
        response = _invoke(messages, stack)
    # Then the message fails and the row ends in error as retries exhausted, saying why
    row = _row_of(stack, messages[0])
    assert _failures(response) == [messages[0]["MessageId"]]
    assert (row.status, row.error_kind) == (EmailStatus.ERROR, ErrorKind.RETRIES_EXHAUSTED)
    assert row.error == "gave up after 1 attempts: suppression list not readable"


def test_a_batch_short_of_time_defers_its_sends_unsent(upload: Upload, stack: LocalResources, ses_mode: None) -> None:
    # Given two queued sends, and an invocation with less time left than a send may need
    upload(campaign_csv(2))
    messages = receive(stack.queue_url, wait_seconds=0)
    # When the worker takes them
    with recording("sesv2") as log:
        response = _invoke(messages, stack, remaining_ms=5_000)
    # Then nothing is sent and nothing is failed: the rows are unclaimed, still QUEUED, and each
    # message is back on the queue as a new one, delayed (its original is deleted as processed)
    assert _failures(response) == []
    assert log.count("SendEmail") == 0
    rows = _by_email(stack, messages).values()
    assert {(r.status, r.claimed_at, r.claims) for r in rows} == {(EmailStatus.QUEUED, None, 0)}
    attributes = client("sqs").get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "2"


def test_a_recipient_suppressed_in_another_case_is_still_suppressed(
    upload: Upload, stack: LocalResources, suppressions: Suppressions
) -> None:
    # Given a send to Ann.Lee@Example.com and a suppression of ann.lee@example.com
    upload(csv_of([("Ann.Lee@Example.com", "Hi", "Hello")]))
    suppressions.add("ann.lee@example.com", SuppressionReason.HARD_BOUNCE, "ses bounce 2")
    # When the worker takes the message
    messages = receive(stack.queue_url, wait_seconds=0)
    _invoke(messages, stack)
    # Then the row is ended by the suppression
    assert _row_of(stack, messages[0]).error == "suppressed: HARD_BOUNCE"
