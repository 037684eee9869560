"""How the ingest talks to AWS: batch limits, partial-failure retries, request counts."""

from collections.abc import Callable
from typing import Any

from httpx import Response

from app.deps import ingest_gateways
from campaign.aws.send_index import SendIndex
from campaign.aws.send_rows import SendRows
from campaign.aws.table_schema import SUPPRESSION_PREFIX
from campaign.domain.models import StatusCounts
from campaign.limits import DYNAMODB_BATCH_WRITE_MAX, DYNAMODB_TRANSACT_MAX, SQS_SEND_BATCH_MAX
from campaign.services.list_sends import SendFilter, list_sends
from campaign.services.redrive import redrive_pending
from scripts.local.provision import LocalResources
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
    # Given a file of 137 rows (moto accepts larger batches than AWS does, so the limits are asserted here)
    # When it is uploaded
    with recording("dynamodb", "sqs") as log:
        upload(campaign_csv(137))
    # Then every row was written and sent, in batch writes of at most 25 items and sends of at most 10
    writes = [len(p["RequestItems"][t]) for p, _ in log.of("BatchWriteItem") for t in p["RequestItems"]]
    sends = [len(p["Entries"]) for p, _ in log.of("SendMessageBatch")]
    assert max(writes) <= DYNAMODB_BATCH_WRITE_MAX and sum(writes) == 137
    assert max(sends) <= SQS_SEND_BATCH_MAX and sum(sends) == 137


def test_message_keys_are_taken_at_most_100_a_transaction(upload: Upload) -> None:
    # Given a file of 237 rows
    # When it is uploaded
    with recording("dynamodb") as log:
        upload(campaign_csv(237))
    # Then every row's message key was taken, in transactions of at most 100 items
    transactions = [len(p["TransactItems"]) for p, _ in log.of("TransactWriteItems")]
    assert max(transactions) <= DYNAMODB_TRANSACT_MAX and sum(transactions) == 237


def test_ingest_stays_under_170_requests_per_1000_new_rows(upload: Upload) -> None:
    # Given 1,000 accepted rows, each with its own message
    # When they are uploaded
    with recording("dynamodb", "sqs") as log:
        upload(campaign_csv(1000))
    # Then the whole ingest, suppression-list reads included, made at most 170 AWS requests
    assert log.count() <= 170, log.by_operation()
    assert log.count("BatchGetItem") == 10


def test_ingest_stays_under_170_requests_per_1000_new_rows_each_with_its_own_2_kb_body(upload: Upload) -> None:
    # Given 1,000 rows whose bodies are too large to sit in their rows, every one different
    rows = [f"user{i}@example.com,Hello,Dear user {i}: " + f"news item {i} " * 150 for i in range(1000)]
    content = ("email,subject,content\n" + "\n".join(row[:2100] for row in rows) + "\n").encode()
    # When they are uploaded
    with recording("dynamodb", "sqs") as log:
        body = upload(content).json()
    # Then the bodies went with their message keys, and the ingest still made at most 170 requests
    assert body["enqueued"] == 1000
    assert log.count() <= 170, log.by_operation()


def test_ingest_of_rows_all_sent_before_stays_under_60_requests_per_1000(upload: Upload) -> None:
    # Given 1,000 rows uploaded once, then again in another file (the same list, saved again)
    upload(campaign_csv(1000))
    again = campaign_csv(1000).replace(b"\n", b"\r\n")
    # When the second file is uploaded
    with recording("dynamodb", "sqs") as log:
        body = upload(again).json()
    # Then nothing was queued, and the ingest cost at most 60 requests
    assert (body["enqueued"], body["alreadyAccepted"]) == (0, 1000)
    assert "SendMessageBatch" not in log.by_operation()
    assert log.count() <= 60, log.by_operation()


def test_unprocessed_items_are_retried_until_written(
    upload: Upload, stack: LocalResources, counts_of: Callable[[str], StatusCounts]
) -> None:
    # Given DynamoDB that returns every item unprocessed on the first two BatchWriteItem calls
    # When a file of 30 rows is uploaded
    with faults("dynamodb", "BatchWriteItem", [_unprocessed, _unprocessed]) as seen:
        body = upload(campaign_csv(30)).json()
    # Then all rows are stored QUEUED, written on later calls
    assert len(seen) > 2
    assert counts_of(body["batchId"]).queued == 30


def test_failed_send_entries_are_retried_until_enqueued(
    upload: Upload, stack: LocalResources, counts_of: Callable[[str], StatusCounts]
) -> None:
    # Given SQS that fails half the entries of the first two SendMessageBatch calls
    # When a file of 20 rows is uploaded
    with faults("sqs", "SendMessageBatch", [_fail_half, _fail_half]):
        body = upload(campaign_csv(20)).json()
    # Then every row was enqueued in the end, none left behind, and all are stored QUEUED
    assert (body["enqueued"], body["notEnqueued"]) == (20, 0)
    assert counts_of(body["batchId"]).queued == 20


def test_rows_sqs_keeps_refusing_stay_pending_with_the_reason(
    upload: Upload, stack: LocalResources, counts_of: Callable[[str], StatusCounts]
) -> None:
    # Given SQS that refuses every entry of every call
    refuse_all = [client_error("ServiceUnavailable", "down", status=503)] * 50
    # When a file of 12 rows is uploaded
    with faults("sqs", "SendMessageBatch", refuse_all):
        body = upload(campaign_csv(12)).json()
    # Then no row looks healthy: all are PENDING with the reason, and the answer says so
    counts = counts_of(body["batchId"])
    assert (body["enqueued"], body["notEnqueued"]) == (0, 12)
    assert (counts.pending, counts.queued) == (12, 0)
    listed = list_sends(SendIndex(stack.table_name), SendFilter(batch_id=body["batchId"]), first=20, after=None)
    assert all(row.error is not None and "ServiceUnavailable" in row.error for row in listed.rows)


def test_redrive_queues_pending_rows_and_the_worker_sends_them(
    upload: Upload, stack: LocalResources, drain: Any, counts_of: Callable[[str], StatusCounts]
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
    assert counts_of(batch_id).sent == 7


def test_rows_are_created_once_and_never_rewritten_by_a_normal_ingest(upload: Upload, stack: LocalResources) -> None:
    # Given a file of 40 new rows
    # When it is uploaded
    with recording("dynamodb") as log:
        upload(campaign_csv(40))
    # Then the only keys read were suppression-list entries: no row was read back to be rewritten
    # (only a resumed ingest reads rows back; every ingest reads the suppression list)
    read = [
        key["pk"]["S"]
        for params, _ in log.of("BatchGetItem")
        for t in params["RequestItems"].values()
        for key in t["Keys"]
    ]
    assert read and all(key.startswith(SUPPRESSION_PREFIX) for key in read)
    assert SendRows(stack.table_name).get("0" * 32) is None


def test_dynamodb_throttling_at_ingest_is_retried_and_every_row_queued_once(
    upload: Upload, stack: LocalResources, counts_of: Callable[[str], StatusCounts]
) -> None:
    # Given DynamoDB throttling BatchWriteItem past botocore's own retries, three times in a row
    throttled = client_error("ProvisionedThroughputExceededException", "slow down")
    # When a file of 60 rows is uploaded
    with faults("dynamodb", "BatchWriteItem", [throttled, throttled, throttled]), recording("sqs") as log:
        body = upload(campaign_csv(60)).json()
    # Then the upload still succeeds, and every accepted row is QUEUED exactly once
    counts = counts_of(body["batchId"])
    sent_ids = [e["Id"] for p, _ in log.of("SendMessageBatch") for e in p["Entries"]]
    assert (body["enqueued"], counts.queued, counts.pending) == (60, 60, 0)
    assert len(sent_ids) == len(set(sent_ids)) == 60


def test_sqs_throttling_at_ingest_is_retried(
    upload: Upload, stack: LocalResources, counts_of: Callable[[str], StatusCounts]
) -> None:
    # Given SQS throttling the first two SendMessageBatch calls
    throttled = client_error("RequestThrottled", "slow down")
    # When a file of 25 rows is uploaded
    with faults("sqs", "SendMessageBatch", [throttled, throttled]):
        body = upload(campaign_csv(25)).json()
    # Then every row was enqueued in the end and is stored QUEUED
    assert (body["enqueued"], body["notEnqueued"]) == (25, 0)
    assert counts_of(body["batchId"]).queued == 25
