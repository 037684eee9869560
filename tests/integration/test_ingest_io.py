"""How the ingest talks to AWS: batch limits, partial-failure retries, request counts."""

from collections.abc import Callable
from typing import Any

from httpx import Response

from app.deps import ingest_gateways
from campaign.aws.send_index import SendIndex
from campaign.aws.send_rows import SendRows
from campaign.limits import DYNAMODB_BATCH_WRITE_MAX, SQS_SEND_BATCH_MAX
from campaign.local.provision import LocalResources
from campaign.services.list_sends import SendFilter, count_batch, list_sends
from campaign.services.redrive import redrive_pending
from tests.support.aws_calls import client_error, faults, recording
from tests.support.csv_files import campaign_csv

Upload = Callable[[bytes], Response]


def _unprocessed(params: dict[str, Any]) -> dict[str, Any]:
    """Pretend DynamoDB wrote nothing: every item comes back unprocessed."""
    return {"UnprocessedItems": params["RequestItems"]}


def _fail_half(params: dict[str, Any]) -> dict[str, Any]:
    entries = params["Entries"]
    half = len(entries) // 2
    return (
        {
            "Successful": [],
            "Failed": [
                {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"}
                for e in entries[:half]
            ],
        }
        if half
        else {"Successful": [], "Failed": []}
    )


def test_batch_writes_carry_at_most_25_items_and_sends_at_most_10(upload: Upload) -> None:
    # moto accepts larger batches than AWS does, so the limits are asserted here
    with recording("dynamodb", "sqs") as log:
        upload(campaign_csv(137))
    writes = [len(p["RequestItems"][t]) for p, _ in log.of("BatchWriteItem") for t in p["RequestItems"]]
    sends = [len(p["Entries"]) for p, _ in log.of("SendMessageBatch")]
    assert max(writes) <= DYNAMODB_BATCH_WRITE_MAX and sum(writes) == 137
    assert max(sends) <= SQS_SEND_BATCH_MAX and sum(sends) == 137


def test_ingest_stays_under_150_requests_per_1000_rows(upload: Upload) -> None:
    # Given 250 accepted rows (kept small: moto's SQS slows with queue depth)
    with recording("dynamodb", "sqs") as log:
        upload(campaign_csv(250))
    # Then the whole ingest made at most 150 AWS requests per 1,000 rows
    assert log.count() * 1000 / 250 <= 150, log.by_operation()


def test_unprocessed_items_are_retried_until_written(upload: Upload, stack: LocalResources) -> None:
    # Given DynamoDB that returns every item unprocessed on the first two BatchWriteItem calls
    with faults("dynamodb", "BatchWriteItem", [_unprocessed, _unprocessed]) as seen:
        body = upload(campaign_csv(30)).json()
    # Then all rows are stored QUEUED, written on later calls
    assert len(seen) > 2
    assert count_batch(SendIndex(stack.table_name), body["batchId"]).queued == 30


def test_failed_send_entries_are_retried_until_enqueued(upload: Upload, stack: LocalResources) -> None:
    with faults("sqs", "SendMessageBatch", [_fail_half, _fail_half]):
        body = upload(campaign_csv(20)).json()
    assert (body["enqueued"], body["notEnqueued"]) == (20, 0)
    assert count_batch(SendIndex(stack.table_name), body["batchId"]).queued == 20


def test_rows_sqs_keeps_refusing_stay_pending_with_the_reason(upload: Upload, stack: LocalResources) -> None:
    # Given SQS that refuses every entry of every call
    refuse_all = [client_error("ServiceUnavailable", "down", status=503)] * 50
    with faults("sqs", "SendMessageBatch", refuse_all):
        body = upload(campaign_csv(12)).json()
    # Then no row looks healthy: all are PENDING with the reason, and the answer says so
    counts = count_batch(SendIndex(stack.table_name), body["batchId"])
    assert (body["enqueued"], body["notEnqueued"]) == (0, 12)
    assert (counts.pending, counts.queued) == (12, 0)
    listed = list_sends(SendIndex(stack.table_name), SendFilter(batch_id=body["batchId"]), first=20, after=None)
    assert all(row.error is not None and "ServiceUnavailable" in row.error for row in listed.rows)


def test_redrive_queues_pending_rows_and_the_worker_sends_them(
    upload: Upload, stack: LocalResources, drain: Any
) -> None:
    # Given a batch whose rows SQS refused at ingest
    with faults("sqs", "SendMessageBatch", [client_error("ServiceUnavailable", "down", status=503)] * 50):
        batch_id = upload(campaign_csv(7)).json()["batchId"]
    gateways = ingest_gateways()
    index = SendIndex(stack.table_name)
    # When the re-drive runs and the worker drains the queue
    result = redrive_pending(batch_id, index=index, rows=gateways.rows, queue=gateways.queue)
    drain()
    # Then every row is SENT
    assert result.requeued == 7
    assert count_batch(index, batch_id).sent == 7


def test_rows_are_created_once_and_never_rewritten_by_a_normal_ingest(upload: Upload, stack: LocalResources) -> None:
    with recording("dynamodb") as log:
        upload(campaign_csv(40))
    assert "BatchGetItem" not in log.by_operation()  # only a resumed ingest reads rows back
    assert SendRows(stack.table_name).get("0" * 32) is None


def test_dynamodb_throttling_at_ingest_is_retried_and_every_row_queued_once(
    upload: Upload, stack: LocalResources
) -> None:
    # Given DynamoDB throttling BatchWriteItem past botocore's own retries, three times in a row
    throttled = client_error("ProvisionedThroughputExceededException", "slow down")
    with faults("dynamodb", "BatchWriteItem", [throttled, throttled, throttled]), recording("sqs") as log:
        body = upload(campaign_csv(60)).json()
    # Then the upload still succeeds, and every accepted row is QUEUED exactly once
    counts = count_batch(SendIndex(stack.table_name), body["batchId"])
    sent_ids = [e["Id"] for p, _ in log.of("SendMessageBatch") for e in p["Entries"]]
    assert (body["enqueued"], counts.queued, counts.pending) == (60, 60, 0)
    assert len(sent_ids) == len(set(sent_ids)) == 60


def test_sqs_throttling_at_ingest_is_retried(upload: Upload, stack: LocalResources) -> None:
    throttled = client_error("RequestThrottled", "slow down")
    with faults("sqs", "SendMessageBatch", [throttled, throttled]):
        body = upload(campaign_csv(25)).json()
    assert (body["enqueued"], body["notEnqueued"]) == (25, 0)
    assert count_batch(SendIndex(stack.table_name), body["batchId"]).queued == 25
