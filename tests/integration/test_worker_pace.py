"""The worker at the fleet's pace (campaign/services/send_batch.py): each send takes a slot of the
shared token bucket; sends without a slot in the invocation's time are deferred through SQS, never
failed, never brought nearer the DLQ; deliveries running side by side send each row once."""

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from httpx import Response

import worker.handler
from campaign.aws.clients import client
from campaign.aws.send_rows import SendRows
from campaign.domain.models import SendRow
from campaign.domain.status import EmailStatus, ErrorKind
from campaign.limits import WORKER_SEND_MARGIN_SECONDS
from scripts.local.provision import LocalResources
from scripts.local.sqs_poller import LocalLambdaContext, receive, sqs_event
from tests.conftest import reset_process_caches
from tests.support.aws_calls import client_error, faults, recording
from tests.support.csv_files import campaign_csv

Upload = Callable[[bytes], Response]
# An invocation with this much time left may take slots starting within the next 1.25 s only.
SLOTS_WITHIN_1_25_S_MS = (WORKER_SEND_MARGIN_SECONDS * 1000) + 1250
# An invocation with this much time left may not start a send at all.
NO_TIME_TO_SEND_MS = (WORKER_SEND_MARGIN_SECONDS - 1) * 1000


@pytest.fixture
def ses_at(stack: LocalResources, monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """SES mode with the fleet's rate capped at the given sends per second."""

    def _set(rate: float) -> None:
        monkeypatch.setenv("SEND_MODE", "ses")
        monkeypatch.setenv("SEND_RATE_PER_SECOND", str(rate))
        reset_process_caches()

    return _set


def _invoke(messages: list[dict[str, Any]], stack: LocalResources, remaining_ms: int = 30_000) -> Any:
    """As the event source mapping does: invoke, then delete the messages not reported as failed."""
    context = LocalLambdaContext(aws_request_id="req-1", remaining_ms=remaining_ms)
    response = worker.handler.handler(sqs_event(messages, stack.queue_arn), context)
    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    for message in messages:
        if message["MessageId"] not in failed:
            client("sqs").delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return response


def _row(stack: LocalResources, message: dict[str, Any]) -> SendRow:
    row = SendRows(stack.table_name).get(json.loads(message["Body"])["sendId"])
    assert row is not None
    return row


def _next_message(stack: LocalResources) -> dict[str, Any]:
    """The queue's next message, waiting out a deferral's delay."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        messages = receive(stack.queue_url, wait_seconds=1)
        if messages:
            (message,) = messages
            return message
    raise AssertionError("no message came back on the queue")


def _dead_letters(stack: LocalResources) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = client("sqs").receive_message(QueueUrl=stack.dlq_url).get("Messages", [])
    return messages


def test_sends_beyond_the_invocations_slots_are_deferred_not_failed(
    upload: Upload, stack: LocalResources, ses_at: Callable[[float], None]
) -> None:
    # Given a fleet rate of 2 sends a second (paced at 1.96), 8 queued sends, and an invocation whose
    # time leaves slots for 1.25 s
    ses_at(2)
    upload(campaign_csv(8))
    messages = receive(stack.queue_url, wait_seconds=0)
    # When the worker takes the batch
    with recording("sesv2", "sqs") as log:
        response = _invoke(messages, stack, remaining_ms=SLOTS_WITHIN_1_25_S_MS)
    # Then the three slots in that time (now, +0.51 s, +1.02 s) are sent; the other five rows are
    # unclaimed, still QUEUED, and their messages are back on the queue, delayed; none is failed
    rows = [_row(stack, m) for m in messages]
    assert response["batchItemFailures"] == []
    assert log.count("SendEmail") == 3
    assert Counter(r.status for r in rows) == {EmailStatus.SENT: 3, EmailStatus.QUEUED: 5}
    assert {(r.claimed_at, r.claims) for r in rows if r.status is EmailStatus.QUEUED} == {(None, 0)}
    (requeue,) = [params for params, _ in log.of("SendMessageBatch")]
    assert len(requeue["Entries"]) == 5
    assert all(entry["DelaySeconds"] >= 1 for entry in requeue["Entries"])


def test_no_send_starts_before_its_slot_at_the_fleets_rate(
    upload: Upload, stack: LocalResources, ses_at: Callable[[float], None]
) -> None:
    # Given a fleet rate of 10 sends a second, an idle bucket, and 6 queued sends
    ses_at(10)
    upload(campaign_csv(6))
    messages = receive(stack.queue_url, wait_seconds=0)
    sent_at: list[float] = []
    # When the worker sends them
    started = time.time()
    with faults("sesv2", "SendEmail", [lambda _: sent_at.append(time.time())] * 6, single_attempt=True):
        _invoke(messages, stack)
    # Then the k-th send started no earlier than k tenths of a second after the batch began (its
    # slot): a busy machine can make sends late, never early
    assert len(sent_at) == 6
    assert all(at >= started + k / 10 for k, at in enumerate(sorted(sent_at)))


def test_deferrals_alone_never_bring_a_message_to_the_dlq(
    upload: Upload, stack: LocalResources, ses_at: Callable[[float], None]
) -> None:
    # Given a queue that dead-letters a message on its third receive, and one queued send
    ses_at(5)
    redrive = json.loads(
        client("sqs").get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["RedrivePolicy"])["Attributes"][
            "RedrivePolicy"
        ]
    )
    client("sqs").set_queue_attributes(
        QueueUrl=stack.queue_url, Attributes={"RedrivePolicy": json.dumps(redrive | {"maxReceiveCount": 3})}
    )
    upload(campaign_csv(1))
    # When four invocations in a row have no time to send it, and a fifth has
    for _ in range(4):
        assert _invoke([_next_message(stack)], stack, remaining_ms=NO_TIME_TO_SEND_MS)["batchItemFailures"] == []
    last = _next_message(stack)
    response = _invoke([last], stack)
    # Then the fifth sends it, as its first attempt; nothing reached the DLQ
    row = _row(stack, last)
    assert response["batchItemFailures"] == []
    assert (row.status, row.attempts) == (EmailStatus.SENT, 1)
    assert _dead_letters(stack) == []


def test_a_deferred_message_keeps_the_receives_that_tried_to_send_it(
    upload: Upload, stack: LocalResources, ses_at: Callable[[float], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a worker that records ERROR on a message's second delivery, and a send whose first
    # delivery SES throttled
    ses_at(5)
    monkeypatch.setenv("MAX_RECEIVE_COUNT", "2")
    reset_process_caches()
    client("sqs").set_queue_attributes(QueueUrl=stack.queue_url, Attributes={"VisibilityTimeout": "0"})
    upload(campaign_csv(1))
    throttle = client_error("Throttling", "Maximum sending rate exceeded.")
    with faults("sesv2", "SendEmail", [throttle], single_attempt=True):
        assert len(_invoke([_next_message(stack)], stack)["batchItemFailures"]) == 1
    # When its second delivery is deferred, and the deferred copy's delivery is throttled too
    _invoke([_next_message(stack)], stack, remaining_ms=NO_TIME_TO_SEND_MS)
    copy = _next_message(stack)
    with faults("sesv2", "SendEmail", [throttle], single_attempt=True):
        _invoke([copy], stack)
    # Then the copy carried the one receive that tried, so its delivery was the last: the row ends
    # in ERROR, retries exhausted, after two attempts (the deferred delivery was not one)
    row = _row(stack, copy)
    assert json.loads(copy["Body"])["priorReceives"] == 1
    assert (row.status, row.error_kind, row.attempts) == (EmailStatus.ERROR, ErrorKind.RETRIES_EXHAUSTED, 2)


def test_two_instances_with_every_message_delivered_twice_send_each_row_once(
    upload: Upload, stack: LocalResources, ses_at: Callable[[float], None]
) -> None:
    # Given 10 queued sends whose every message SQS delivered twice: to two instances at once, and
    # once more within one of the batches
    ses_at(100)
    upload(campaign_csv(10))
    messages = receive(stack.queue_url, wait_seconds=0)
    twice = [dict(m, MessageId=f"{m['MessageId']}-again") for m in messages[:3]]
    batches = [messages + twice, list(reversed(messages))]
    # When both instances send their batch side by side
    with recording("sesv2") as log:
        threads = [threading.Thread(target=_invoke, args=(batch, stack)) for batch in batches]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    # Then SES was called once per row, and every row is SENT
    sent_to = Counter(params["Destination"]["ToAddresses"][0] for params, _ in log.of("SendEmail"))
    assert len(sent_to) == 10 and set(sent_to.values()) == {1}
    assert {_row(stack, m).status for m in messages} == {EmailStatus.SENT}
