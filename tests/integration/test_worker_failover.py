"""Providers in order (SEND_MODE="ses,smtp"): a message SES certainly refused goes to the SMTP relay
(a real SMTP server on loopback, the local mailbox); SES's circuit breaker opens after its failures
and sends skip it; after the cooldown one probe closes it again; an unknown outcome or a permanent
refusal never fails over."""

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from httpx import Response

import worker.handler
from campaign.aws.breakers import Breakers
from campaign.aws.clients import client
from campaign.aws.send_rows import SendRows
from campaign.aws.table_schema import BREAKER_PREFIX
from campaign.domain.models import SendRow
from campaign.domain.status import EmailStatus, ErrorKind
from campaign.limits import BREAKER_COOLDOWN_SECONDS, BREAKER_FAILURES_TO_OPEN
from scripts.local.mailbox import RunningMailbox, serving
from scripts.local.provision import LocalResources
from scripts.local.sqs_poller import LocalLambdaContext, receive, sqs_event
from scripts.loopback import free_port
from tests.conftest import reset_process_caches
from tests.support.aws_calls import client_error, faults, recording
from tests.support.csv_files import campaign_csv

Upload = Callable[[bytes], Response]
UNAVAILABLE = client_error("ServiceUnavailableException", "SES is down", status=503)


@pytest.fixture
def relay(stack: LocalResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningMailbox]:
    """SES first, then an SMTP relay on loopback (no TLS: the local mailbox)."""
    with serving(port=0, smtp_port=free_port()) as running:
        monkeypatch.setenv("SEND_MODE", "ses,smtp")
        monkeypatch.setenv("SMTP_HOST", running.smtp_host)
        monkeypatch.setenv("SMTP_PORT", str(running.smtp_port))
        monkeypatch.setenv("SEND_RATE_PER_SECOND", "200")
        reset_process_caches()
        yield running


def _invoke(messages: list[dict[str, Any]], stack: LocalResources) -> Any:
    return worker.handler.handler(sqs_event(messages, stack.queue_arn), LocalLambdaContext(aws_request_id="req-1"))


def _rows(stack: LocalResources, messages: list[dict[str, Any]]) -> list[SendRow]:
    rows = SendRows(stack.table_name)
    found = [rows.get(json.loads(m["Body"])["sendId"]) for m in messages]
    return [row for row in found if row is not None]


def _delivered_to(mailbox: RunningMailbox) -> list[str]:
    return sorted(message.recipients[0] for message in mailbox.mailbox.newest_first())


def _cooldown_passes(stack: LocalResources) -> None:
    """Move SES's breaker back in time by its cooldown, as if the cooldown had gone by."""
    key = {"pk": {"S": f"{BREAKER_PREFIX}ses"}}
    item = client("dynamodb").get_item(TableName=stack.table_name, Key=key, ConsistentRead=True)["Item"]
    earlier = float(item["openedAt"]["N"]) - BREAKER_COOLDOWN_SECONDS - 1
    client("dynamodb").update_item(
        TableName=stack.table_name,
        Key=key,
        UpdateExpression="SET openedAt = :earlier",
        ExpressionAttributeValues={":earlier": {"N": str(earlier)}},
    )


def test_a_send_ses_certainly_refused_goes_through_the_relay(
    upload: Upload, stack: LocalResources, relay: RunningMailbox
) -> None:
    # Given a queued send, and SES answering it with "service unavailable"
    upload(campaign_csv(1))
    messages = receive(stack.queue_url, wait_seconds=0)
    # When the worker sends it
    with faults("sesv2", "SendEmail", [UNAVAILABLE], single_attempt=True):
        response = _invoke(messages, stack)
    # Then the relay delivered it, and the row says so, with the relay's message id
    (row,) = _rows(stack, messages)
    assert response["batchItemFailures"] == []
    assert _delivered_to(relay) == ["user0@example.com"]
    assert (row.status, row.provider) == (EmailStatus.SENT, "smtp")
    assert row.provider_message_id is not None and row.provider_message_id.startswith("<")


def test_a_send_through_ses_records_ses_and_its_message_id(
    upload: Upload, stack: LocalResources, relay: RunningMailbox
) -> None:
    # Given a queued send and a healthy SES
    upload(campaign_csv(1))
    messages = receive(stack.queue_url, wait_seconds=0)
    # When the worker sends it
    with recording("sesv2") as log:
        _invoke(messages, stack)
    # Then SES took it, the relay did not, and the row names SES and SES's message id
    (row,) = _rows(stack, messages)
    ((_, reply),) = log.of("SendEmail")
    assert relay.mailbox.newest_first() == []
    assert (row.status, row.provider, row.provider_message_id) == (EmailStatus.SENT, "ses", reply["MessageId"])


def test_after_enough_failures_the_breaker_opens_and_sends_skip_ses(
    upload: Upload, stack: LocalResources, relay: RunningMailbox
) -> None:
    # Given SES unavailable for the first sends of a batch, and more sends queued behind them
    upload(campaign_csv(BREAKER_FAILURES_TO_OPEN + 5))
    messages = receive(stack.queue_url, wait_seconds=0)
    first, second = messages[:BREAKER_FAILURES_TO_OPEN], messages[BREAKER_FAILURES_TO_OPEN:]
    with faults("sesv2", "SendEmail", [UNAVAILABLE] * BREAKER_FAILURES_TO_OPEN, single_attempt=True):
        _invoke(first, stack)
    # When the worker (any instance: a new container here) sends the next batch
    reset_process_caches()
    with recording("sesv2") as log:
        _invoke(second, stack)
    # Then SES's breaker is open for everyone: the second batch never called SES and the relay sent
    # every row of both batches
    breakers = Breakers(stack.table_name, ["ses", "smtp"])
    breakers.refresh()
    assert breakers.phase("ses") == "open"
    assert log.count("SendEmail") == 0
    assert len(_delivered_to(relay)) == BREAKER_FAILURES_TO_OPEN + 5
    assert {row.provider for row in _rows(stack, first + second)} == {"smtp"}


def test_after_the_cooldown_one_probe_closes_the_breaker_and_ses_sends_again(
    upload: Upload, stack: LocalResources, relay: RunningMailbox
) -> None:
    # Given SES's breaker opened by failures, its cooldown gone by, and SES healthy again
    upload(campaign_csv(BREAKER_FAILURES_TO_OPEN + 4))
    messages = receive(stack.queue_url, wait_seconds=0)
    failing, probe, later = (
        messages[:BREAKER_FAILURES_TO_OPEN],
        messages[BREAKER_FAILURES_TO_OPEN : BREAKER_FAILURES_TO_OPEN + 1],
        messages[BREAKER_FAILURES_TO_OPEN + 1 :],
    )
    with faults("sesv2", "SendEmail", [UNAVAILABLE] * BREAKER_FAILURES_TO_OPEN, single_attempt=True):
        _invoke(failing, stack)
    _cooldown_passes(stack)
    # When the next send goes out (sends beside an unfinished probe take the next provider, so it goes
    # alone), and then a batch after it
    with recording("sesv2") as log:
        _invoke(probe, stack)
        _invoke(later, stack)
    # Then the first send probed SES and closed the breaker, and SES sent everything after it
    breakers = Breakers(stack.table_name, ["ses", "smtp"])
    breakers.refresh()
    assert breakers.phase("ses") == "closed"
    assert log.count("SendEmail") == 1 + len(later)
    assert {row.provider for row in _rows(stack, probe + later)} == {"ses"}


def test_an_unknown_outcome_never_fails_over(upload: Upload, stack: LocalResources, relay: RunningMailbox) -> None:
    # Given a queued send whose SES call timed out waiting for the answer (SES may have sent it)
    upload(campaign_csv(1))
    messages = receive(stack.queue_url, wait_seconds=0)
    timeout = ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com")
    # When the worker sends it
    with faults("sesv2", "SendEmail", [timeout], single_attempt=True):
        response = _invoke(messages, stack)
    # Then the relay was not tried (two emails are worse than none): the row ends ERROR, outcome unknown
    (row,) = _rows(stack, messages)
    assert response["batchItemFailures"] == []
    assert relay.mailbox.newest_first() == []
    assert (row.status, row.error_kind) == (EmailStatus.ERROR, ErrorKind.UNKNOWN_OUTCOME)


def test_a_message_ses_rejects_is_not_handed_to_the_relay(
    upload: Upload, stack: LocalResources, relay: RunningMailbox
) -> None:
    # Given a queued send that SES rejects for what it is
    upload(campaign_csv(1))
    messages = receive(stack.queue_url, wait_seconds=0)
    rejected = client_error("MessageRejected", "Email address is not verified.")
    # When the worker sends it
    with faults("sesv2", "SendEmail", [rejected], single_attempt=True):
        _invoke(messages, stack)
    # Then the relay was not tried: the row ends ERROR, permanent
    (row,) = _rows(stack, messages)
    assert relay.mailbox.newest_first() == []
    assert (row.status, row.error_kind) == (EmailStatus.ERROR, ErrorKind.PERMANENT)


def test_a_throttled_send_goes_through_the_relay_without_counting_against_ses(
    upload: Upload, stack: LocalResources, relay: RunningMailbox
) -> None:
    # Given more sends than SES's breaker tolerates failures, every one throttled by SES
    count = BREAKER_FAILURES_TO_OPEN + 1
    upload(campaign_csv(count))
    messages = receive(stack.queue_url, wait_seconds=0)
    throttle = client_error("Throttling", "Maximum sending rate exceeded.")
    # When the worker sends them
    with faults("sesv2", "SendEmail", [throttle] * count, single_attempt=True):
        _invoke(messages, stack)
    # Then the relay sent them all, and SES's breaker stayed closed (it was only asked to slow down)
    breakers = Breakers(stack.table_name, ["ses", "smtp"])
    breakers.refresh()
    assert len(_delivered_to(relay)) == count
    assert breakers.phase("ses") == "closed"
