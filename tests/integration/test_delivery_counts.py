"""Delivery outcomes in a batch's counts: SES events for its rows move each row to its latest outcome
in the counts the stream consumer keeps, once, and `batch` answers them with its rates from two items."""

import json
from collections.abc import Callable
from typing import Any

import pytest

import worker.count_changes
from campaign.aws.batch_counts import BatchCounts
from campaign.aws.clients import client
from campaign.aws.send_rows import SendRows
from campaign.aws.suppressions import Suppressions
from campaign.domain.ids import send_id_for
from campaign.domain.models import OutcomeCounts
from campaign.services.delivery_events import EventOutcome, handle_delivery_event
from scripts.local.provision import LocalResources
from scripts.local.sqs_poller import LocalLambdaContext
from scripts.local.stream_poller import _streams
from tests.support.aws_calls import recording
from tests.support.seed import RETENTION

GraphQL = Callable[..., dict[str, Any]]

BATCH = """
query($id: String!) {
  batch(batchId: $id) {
    counts { pending queued sent error delivered bounced complained rejected delayed bounceRate complaintRate }
  }
}"""

HARD_BOUNCE = {"bounceType": "Permanent", "bounceSubType": "General"}


def _csv(*names: str) -> bytes:
    return ("email,subject,content\n" + "".join(f"{name}@example.com,Hello,Body\n" for name in names)).encode()


def _event(kind: str, send_id: str, address: str, **detail: Any) -> str:
    """An SES event as the events queue delivers it (raw), for one recipient."""
    key = {"Delivery": "delivery", "Bounce": "bounce", "Complaint": "complaint", "DeliveryDelay": "deliveryDelay"}
    listed: dict[str, dict[str, Any]] = {
        "Delivery": {"recipients": [address]},
        "Bounce": {"bouncedRecipients": [{"emailAddress": address}]},
        "Complaint": {"complainedRecipients": [{"emailAddress": address}]},
        "DeliveryDelay": {"delayedRecipients": [{"emailAddress": address}]},
    }
    mail = {"messageId": f"ses-{send_id[:8]}", "destination": [address], "tags": {"sendId": [send_id]}}
    body = {"timestamp": "2026-11-29T12:00:00.000Z", **listed.get(kind, {}), **detail}
    return json.dumps({"eventType": kind, "mail": mail, key.get(kind, "reject"): body})


def _sent_batch(stack: LocalResources, upload: Any, drain: Any, *names: str) -> tuple[str, Callable[..., EventOutcome]]:
    """An upload all of whose rows were sent (and counted), and a way to hand SES events for its rows."""
    batch_id = upload(_csv(*names)).json()["batchId"]
    drain()

    def _handle(kind: str, name: str, **detail: Any) -> EventOutcome:
        address = f"{name}@example.com"
        body = _event(kind, send_id_for(batch_id, address), address, **detail)
        return handle_delivery_event(body, rows=SendRows(stack.table_name), suppressions=Suppressions(stack.table_name))

    return batch_id, _handle


def test_events_for_a_batch_s_rows_give_its_outcome_counts_and_rates(
    graphql: GraphQL, stack: LocalResources, upload: Any, drain: Any, count_changes: Any
) -> None:
    # Given a batch of eight sent rows
    batch_id, handle = _sent_batch(stack, upload, drain, "ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal")
    # When SES reports on five of them: a delivery, then a repeat of it; a delivery, then a complaint,
    # then a late delivery (lower: changes nothing); a hard bounce, then a late delay; a delay; a rejection
    outcomes = [
        handle("Delivery", "ann"),
        handle("Delivery", "ann"),
        handle("Delivery", "bob"),
        handle("Complaint", "bob"),
        handle("Delivery", "bob"),
        handle("Bounce", "cy", **HARD_BOUNCE),
        handle("DeliveryDelay", "cy"),
        handle("DeliveryDelay", "dee"),
        handle("Reject", "eve", reason="Bad content"),
    ]
    assert outcomes.count(EventOutcome.UNCHANGED) == 3
    # and the stream consumer has run
    count_changes()
    with recording("dynamodb") as log:
        counts = graphql(BATCH, id=batch_id)["data"]["batch"]["counts"]
    # Then each row counts under its latest outcome (three under none), the rates per sent message,
    # read from the batch's two items
    assert counts == {
        "pending": 0,
        "queued": 0,
        "sent": 8,
        "error": 0,
        "delivered": 1,
        "bounced": 1,
        "complained": 1,
        "rejected": 1,
        "delayed": 1,
        "bounceRate": 0.125,
        "complaintRate": 0.125,
    }
    assert log.by_operation() == {"GetItem": 2}


def test_the_rates_are_null_before_any_row_is_sent(graphql: GraphQL, upload: Any, count_changes: Any) -> None:
    # Given a batch of two rows, queued and counted, none sent yet
    batch_id = upload(_csv("ann", "bob")).json()["batchId"]
    count_changes()
    # When its counts are queried
    counts = graphql(BATCH, id=batch_id)["data"]["batch"]["counts"]
    # Then both rows are queued, no outcome is counted, and the bounce and complaint rates are null
    assert (counts["queued"], counts["sent"], counts["bounceRate"], counts["complaintRate"]) == (2, 0, None, None)
    assert (counts["delivered"], counts["bounced"], counts["complained"]) == (0, 0, 0)


def _outcome_records(stack: LocalResources) -> list[dict[str, Any]]:
    """The stream's records of rows whose delivery outcome changed, as the event source mapping hands them over."""
    streams = _streams()
    arn = client("dynamodb").describe_table(TableName=stack.table_name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return [
        r
        for r in records
        if r["dynamodb"]["Keys"]["pk"]["S"].startswith("SEND#")
        and r["dynamodb"].get("NewImage", {}).get("delivery") != r["dynamodb"].get("OldImage", {}).get("delivery")
    ]


@pytest.mark.parametrize("deliveries", [1, 2])
def test_a_stream_delivery_of_outcomes_that_lambda_retries_counts_once(
    stack: LocalResources, upload: Any, drain: Any, deliveries: int
) -> None:
    # Given events for three sent rows: a delivery, a delivery then a complaint, a hard bounce
    batch_id, handle = _sent_batch(stack, upload, drain, "ann", "bob", "cy")
    handle("Delivery", "ann")
    handle("Delivery", "bob")
    handle("Complaint", "bob")
    handle("Bounce", "cy", **HARD_BOUNCE)
    delivery = {"Records": _outcome_records(stack)}
    assert len(delivery["Records"]) == 4
    # When the consumer gets their stream records, and Lambda delivers them again (its first success unseen)
    for _ in range(deliveries):
        worker.count_changes.handler(delivery, LocalLambdaContext())
    # Then they are counted once
    listing = BatchCounts(stack.table_name, RETENTION).get(batch_id)
    assert listing is not None
    assert listing.outcomes == OutcomeCounts(delivered=1, bounced=1, complained=1)
    assert listing.counts.sent == 3
