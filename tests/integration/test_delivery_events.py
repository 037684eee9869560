"""SES delivery events: each send learns its outcome, only ever forward; hard bounces and complaints
suppress the address; repeats, late and unknown events change nothing and are never retried for ever."""

import json
from typing import Any

import pytest

import worker.handler
from campaign.aws.clients import client
from campaign.aws.send_rows import SendRows
from campaign.aws.suppressions import Suppressions
from campaign.domain.ids import batch_id_for, send_id_for
from campaign.domain.models import SendRow, SuppressionReason
from campaign.domain.status import DeliveryOutcome, EmailStatus, ErrorKind
from campaign.services.delivery_events import EventOutcome, handle_delivery_event
from scripts.local.provision import LocalResources
from scripts.local.ses_simulator import simulator_events
from scripts.local.sqs_poller import poll_once

CSV = b"email,subject,content\nann@example.com,Hello,Body\n"


@pytest.fixture
def sent(stack: LocalResources, upload: Any, drain: Any) -> SendRow:
    upload(CSV)
    drain()
    row = SendRows(stack.table_name).get(send_id_for(batch_id_for(CSV), "ann@example.com"))
    assert row is not None and row.status is EmailStatus.SENT
    return row


def _event(kind: str, send_id: str | None, **detail: Any) -> str:
    mail = {"messageId": "ses-1", "destination": ["ann@example.com"], "tags": {"sendId": [send_id]} if send_id else {}}
    key = {"Delivery": "delivery", "Bounce": "bounce", "Complaint": "complaint", "DeliveryDelay": "deliveryDelay"}
    body = {"timestamp": "2026-11-29T12:00:00.000Z", **detail}
    return json.dumps({"eventType": kind, "mail": mail, key.get(kind, "reject"): body})


def _handle(stack: LocalResources, body: str) -> EventOutcome:
    return handle_delivery_event(body, rows=SendRows(stack.table_name), suppressions=Suppressions(stack.table_name))


def _row(stack: LocalResources, send_id: str) -> SendRow:
    row = SendRows(stack.table_name).get(send_id)
    assert row is not None
    return row


def _suppression_reasons(stack: LocalResources) -> dict[str, SuppressionReason]:
    return Suppressions(stack.table_name).reasons(["ann@example.com"])


HARD_BOUNCE = {
    "bounceType": "Permanent",
    "bounceSubType": "General",
    "bouncedRecipients": [{"emailAddress": "ann@example.com"}],
}
SOFT_BOUNCE = {
    "bounceType": "Transient",
    "bounceSubType": "MailboxFull",
    "bouncedRecipients": [{"emailAddress": "ann@example.com"}],
}


@pytest.mark.parametrize(
    ("kind", "detail", "outcome"),
    [
        ("Delivery", {"recipients": ["ann@example.com"]}, DeliveryOutcome.DELIVERED),
        ("Bounce", HARD_BOUNCE, DeliveryOutcome.BOUNCED),
        ("Complaint", {"complainedRecipients": [{"emailAddress": "ann@example.com"}]}, DeliveryOutcome.COMPLAINED),
        ("Reject", {"reason": "Bad content"}, DeliveryOutcome.REJECTED),
        ("DeliveryDelay", {"delayType": "MailboxFull"}, DeliveryOutcome.DELAYED),
    ],
)
def test_each_event_type_records_its_outcome_beside_the_status(
    stack: LocalResources, sent: SendRow, kind: str, detail: dict[str, Any], outcome: DeliveryOutcome
) -> None:
    # Given a row the worker has sent
    # When SES reports an event of one type for it
    assert _handle(stack, _event(kind, sent.send_id, **detail)) is EventOutcome.RECORDED
    # Then the row keeps its SENT status and records the event's outcome and time beside it
    row = _row(stack, sent.send_id)
    assert (row.status, row.delivery, row.delivery_at) == (EmailStatus.SENT, outcome, "2026-11-29T12:00:00.000Z")


def test_a_bounce_records_its_type_and_subtype(stack: LocalResources, sent: SendRow) -> None:
    # Given a row the worker has sent
    # When SES reports a permanent, general bounce for it
    _handle(stack, _event("Bounce", sent.send_id, **HARD_BOUNCE))
    # Then the row records the bounce's type and subtype
    row = _row(stack, sent.send_id)
    assert (row.bounce_type, row.bounce_subtype) == ("Permanent", "General")


def test_a_hard_bounce_suppresses_the_address(stack: LocalResources, sent: SendRow) -> None:
    # Given a row the worker has sent
    # When SES reports a hard bounce for it
    _handle(stack, _event("Bounce", sent.send_id, **HARD_BOUNCE))
    # Then the address is suppressed for the hard bounce
    assert _suppression_reasons(stack) == {"ann@example.com": SuppressionReason.HARD_BOUNCE}


def test_a_complaint_suppresses_the_address(stack: LocalResources, sent: SendRow) -> None:
    # Given a row the worker has sent
    # When SES reports a complaint for it
    _handle(stack, _event("Complaint", sent.send_id, complainedRecipients=[{"emailAddress": "ann@example.com"}]))
    # Then the address is suppressed for the complaint
    assert _suppression_reasons(stack) == {"ann@example.com": SuppressionReason.COMPLAINT}


def test_a_soft_bounce_does_not_suppress(stack: LocalResources, sent: SendRow) -> None:
    # Given a row the worker has sent
    # When SES reports a transient bounce (mailbox full) for it
    _handle(stack, _event("Bounce", sent.send_id, **SOFT_BOUNCE))
    # Then the bounce is recorded on the row, but the address is not suppressed
    assert _suppression_reasons(stack) == {}
    assert _row(stack, sent.send_id).bounce_type == "Transient"


def test_the_same_event_twice_changes_nothing(stack: LocalResources, sent: SendRow) -> None:
    # Given a sent row whose delivery event has been recorded
    body = _event("Delivery", sent.send_id, recipients=["ann@example.com"])
    assert _handle(stack, body) is EventOutcome.RECORDED
    before = _row(stack, sent.send_id)
    # When the same event comes again, then it changes nothing on the row
    assert _handle(stack, body) is EventOutcome.UNCHANGED
    assert _row(stack, sent.send_id) == before


def test_a_late_lower_event_does_not_overwrite_a_later_fact(stack: LocalResources, sent: SendRow) -> None:
    # Given a sent row whose complaint has been recorded
    _handle(stack, _event("Complaint", sent.send_id, complainedRecipients=[{"emailAddress": "ann@example.com"}]))
    # When its delivery and a delay arrive late, then neither changes the row
    assert _handle(stack, _event("Delivery", sent.send_id, recipients=["ann@example.com"])) is EventOutcome.UNCHANGED
    assert _handle(stack, _event("DeliveryDelay", sent.send_id)) is EventOutcome.UNCHANGED
    # Then the row's outcome is still the complaint
    assert _row(stack, sent.send_id).delivery is DeliveryOutcome.COMPLAINED


def test_an_event_before_the_row_reached_sent_is_kept(stack: LocalResources, upload: Any, drain: Any) -> None:
    # Given an uploaded row still QUEUED
    upload(CSV)
    send_id = send_id_for(batch_id_for(CSV), "ann@example.com")
    assert _row(stack, send_id).status is EmailStatus.QUEUED
    # When its delivery event arrives before the worker writes SENT
    assert _handle(stack, _event("Delivery", send_id, recipients=["ann@example.com"])) is EventOutcome.RECORDED
    drain()
    # Then the row ends SENT with the delivery still recorded
    row = _row(stack, send_id)
    assert (row.status, row.delivery) == (EmailStatus.SENT, DeliveryOutcome.DELIVERED)


def test_an_event_for_an_unknown_send_is_dropped(stack: LocalResources) -> None:
    # Given an empty table
    # When a delivery event names a send that does not exist, or names none, then it is dropped
    assert _handle(stack, _event("Delivery", "0" * 32, recipients=["x@example.com"])) is EventOutcome.DROPPED
    assert _handle(stack, _event("Delivery", None, recipients=["x@example.com"])) is EventOutcome.DROPPED


@pytest.mark.parametrize("body", ["not json", "[]", json.dumps({"eventType": "Open", "mail": {}}), "{}"])
def test_a_message_that_is_no_delivery_event_is_dropped(stack: LocalResources, body: str) -> None:
    # Given a message that is not JSON, not an object, or an event type the worker does not record
    # When the worker handles it, then it is dropped
    assert _handle(stack, body) is EventOutcome.DROPPED


def test_a_hard_bounce_for_a_send_no_longer_kept_still_suppresses(stack: LocalResources) -> None:
    # Given a send whose row has expired from the table
    # When SES reports a hard bounce for it, then there is no row to record it on
    assert _handle(stack, _event("Bounce", "0" * 32, **HARD_BOUNCE)) is EventOutcome.DROPPED
    # Then the address is suppressed all the same
    assert _suppression_reasons(stack) == {"ann@example.com": SuppressionReason.HARD_BOUNCE}


def test_an_event_wrapped_in_an_sns_notification_is_read(stack: LocalResources, sent: SendRow) -> None:
    # Given a delivery event for a sent row, delivered inside an SNS notification
    wrapped = json.dumps({"Type": "Notification", "Message": _event("Delivery", sent.send_id, recipients=[])})
    # When the worker handles it, then the event inside is recorded
    assert _handle(stack, wrapped) is EventOutcome.RECORDED


def test_the_send_id_header_names_the_send_when_the_tag_is_missing(stack: LocalResources, sent: SendRow) -> None:
    # Given a delivery event without the sendId tag, whose mail carries the send id header
    body = json.loads(_event("Delivery", None, recipients=["ann@example.com"]))
    body["mail"]["headers"] = [{"name": "X-Campaign-Send-Id", "value": sent.send_id}]
    # When the worker handles it, then it is recorded on the send the header names
    assert _handle(stack, json.dumps(body)) is EventOutcome.RECORDED


def test_an_unknown_outcome_error_with_a_delivery_event_shows_that_ses_accepted_it(
    stack: LocalResources, sent: SendRow
) -> None:
    # Given a row the worker left in ERROR, not knowing whether SES had accepted it
    rows = SendRows(stack.table_name)
    unknown = sent._replace(send_id="f" * 32, status=EmailStatus.ERROR, error_kind=ErrorKind.UNKNOWN_OUTCOME.value)
    rows.put_new(unknown, expires_at=0)
    # When SES reports its delivery
    _handle(stack, _event("Delivery", unknown.send_id, recipients=["ann@example.com"]))
    # Then the row stays an unknown-outcome ERROR, and records the delivery beside it
    row = _row(stack, unknown.send_id)
    assert (row.status, row.error_kind, row.delivery) == (
        EmailStatus.ERROR,
        "unknown_outcome",
        DeliveryOutcome.DELIVERED,
    )


@pytest.mark.parametrize(
    ("address", "outcomes"),
    [
        ("success@simulator.amazonses.com", [DeliveryOutcome.DELIVERED]),
        ("bounce@simulator.amazonses.com", [DeliveryOutcome.BOUNCED]),
        ("complaint+x@simulator.amazonses.com", [DeliveryOutcome.DELIVERED, DeliveryOutcome.COMPLAINED]),
        ("suppressionlist@simulator.amazonses.com", [DeliveryOutcome.BOUNCED]),
        ("ooto@simulator.amazonses.com", [DeliveryOutcome.DELIVERED]),
        ("ann@example.com", []),
    ],
)
def test_the_local_simulator_plays_ses_for_its_addresses(address: str, outcomes: list[DeliveryOutcome]) -> None:
    # Given one of SES's simulator addresses, or an ordinary one
    # When the local simulator sends to it
    events = simulator_events(recipient=address, sender="news@example.com", send_id="a" * 32, message_id="m")
    # Then it reports the events SES reports for that address, and none for an ordinary one
    kinds = [json.loads(event)["eventType"] for event in events]
    expected = {
        DeliveryOutcome.DELIVERED: "Delivery",
        DeliveryOutcome.BOUNCED: "Bounce",
        DeliveryOutcome.COMPLAINED: "Complaint",
    }
    assert kinds == [expected[outcome] for outcome in outcomes]


def test_the_worker_takes_events_from_the_events_queue_as_a_second_source(stack: LocalResources, sent: SendRow) -> None:
    # Given a hard bounce for a sent row and a junk message on the events queue
    body = _event("Bounce", sent.send_id, **HARD_BOUNCE)
    client("sqs").send_message(QueueUrl=stack.events_queue_url, MessageBody=body)
    client("sqs").send_message(QueueUrl=stack.events_queue_url, MessageBody="junk: dropped, not retried")
    # When the worker is invoked from that queue
    result = poll_once(stack.events_queue_url, stack.events_queue_arn, worker.handler.handler, wait_seconds=0)
    # Then both messages are taken, neither failed, and the bounce is recorded and suppresses the address
    assert (result.received, result.failed) == (2, 0)
    assert _row(stack, sent.send_id).delivery is DeliveryOutcome.BOUNCED
    assert _suppression_reasons(stack) == {"ann@example.com": SuppressionReason.HARD_BOUNCE}


ERROR_ROWS = """query($b: String!) {
  listEmailStatus(batchId: $b, status: [ERROR]) { items { sendId delivery { outcome sentAfterAll } } } }"""


def test_a_listing_shows_that_ses_accepted_an_unknown_outcome_row(
    stack: LocalResources, upload: Any, drain: Any, graphql: Any
) -> None:
    # Given an uploaded row a worker claimed long ago and died on: the next delivery records ERROR,
    # outcome unknown
    upload(CSV)
    send_id = send_id_for(batch_id_for(CSV), "ann@example.com")
    SendRows(stack.table_name).claim(send_id, "2020-01-01T00:00:00.000000Z")
    drain()
    assert _row(stack, send_id).error_kind == ErrorKind.UNKNOWN_OUTCOME.value
    # When SES then reports its delivery (and the stream consumer, whose counts size the listing's
    # reads, runs)
    _handle(stack, _event("Delivery", send_id, recipients=["ann@example.com"]))
    drain()
    # Then the batch's ERROR rows list it as delivered after all
    items = graphql(ERROR_ROWS, b=batch_id_for(CSV))["data"]["listEmailStatus"]["items"]
    assert items == [{"sendId": send_id, "delivery": {"outcome": "DELIVERED", "sentAfterAll": True}}]


def test_an_abandoned_send_that_ses_reported_on_is_settled_as_sent(
    stack: LocalResources, upload: Any, drain: Any
) -> None:
    # Given a row the worker claimed and SES accepted, but the worker died before writing its result,
    # and SES has reported the delivery
    upload(CSV)
    send_id = send_id_for(batch_id_for(CSV), "ann@example.com")
    SendRows(stack.table_name).claim(send_id, "2020-01-01T00:00:00.000000Z")
    _handle(stack, _event("Delivery", send_id, recipients=["ann@example.com"]))
    # When the message comes back to the worker
    drain()
    # Then the stale claim is settled by the event as SENT, not sent again
    row = _row(stack, send_id)
    assert (row.status, row.error_kind, row.delivery) == (EmailStatus.SENT, None, DeliveryOutcome.DELIVERED)
