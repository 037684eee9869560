"""The stream consumer keeps each batch's counts: one write per batch per delivery, exact, once."""

from collections.abc import Callable
from typing import Any

import pytest
from httpx import Response

import worker.count_changes
from campaign.aws.batch_counts import BatchCounts, CountChange
from campaign.aws.clients import client
from campaign.domain.histogram import bucket_of
from campaign.domain.status import DeliveryOutcome, EmailStatus
from campaign.services.count_changes import count_changes, delivery_token
from scripts.local.provision import LocalResources
from scripts.local.sqs_poller import LocalLambdaContext
from scripts.local.stream_poller import STREAM_BATCH_SIZE, _streams
from tests.support.aws_calls import recording
from tests.support.csv_files import campaign_csv
from tests.support.seed import RETENTION

Upload = Callable[[bytes], Response]


def _records(stack: LocalResources) -> list[dict[str, Any]]:
    """Every send-row record of the table's stream so far, as the event source mapping hands them over."""
    streams = _streams()
    arn = client("dynamodb").describe_table(TableName=stack.table_name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=STREAM_BATCH_SIZE)["Records"]
    return [r for r in records if r["dynamodb"]["Keys"]["pk"]["S"].startswith("SEND#")]


def _counts(stack: LocalResources, batch_id: str) -> tuple[int, int, int, int]:
    listing = BatchCounts(stack.table_name, RETENTION).get(batch_id)
    assert listing is not None
    return tuple(listing.counts)  # type: ignore[return-value]


def test_a_delivery_of_many_row_changes_writes_each_batch_once(upload: Upload, stack: LocalResources) -> None:
    # Given two uploads of 120 and 80 rows: 200 row creations on the stream
    first = upload(campaign_csv(120)).json()["batchId"]
    second = upload(campaign_csv(80, start=1000)).json()["batchId"]
    records = _records(stack)
    # When the consumer gets them in one delivery
    with recording("dynamodb") as log:
        worker.count_changes.handler({"Records": records}, LocalLambdaContext())
    # Then one transaction updated both batches' counts, and they are right
    assert len(records) == 200
    assert log.by_operation() == {"TransactWriteItems": 1}
    assert len(log.of("TransactWriteItems")[0][0]["TransactItems"]) == 2
    assert _counts(stack, first) == (0, 120, 0, 0) and _counts(stack, second) == (0, 80, 0, 0)


def test_a_delivery_that_lambda_retries_counts_once(upload: Upload, stack: LocalResources) -> None:
    # Given a delivery the consumer handled, whose success Lambda did not see (it timed out after)
    batch_id = upload(campaign_csv(30)).json()["batchId"]
    delivery = {"Records": _records(stack)}
    worker.count_changes.handler(delivery, LocalLambdaContext())
    # When Lambda delivers the same records again
    worker.count_changes.handler(delivery, LocalLambdaContext())
    # Then they are counted once (DynamoDB applies a transaction with a token it has seen only once)
    assert _counts(stack, batch_id) == (0, 30, 0, 0)


def test_the_token_names_the_records_of_a_delivery() -> None:
    # Given the records of a delivery
    one = [{"eventID": "a"}, {"eventID": "b"}]
    # When its token is made, and the tokens of an equal delivery and of another one
    token = delivery_token(one)
    same, other = delivery_token([dict(r) for r in one]), delivery_token([{"eventID": "a"}])
    # Then equal records give the same 32-character token and other records another
    assert token == same
    assert token != other
    assert len(token) == 32


def _image(
    status: EmailStatus, *, seq: int = 3, resent: bool = False, delivery: DeliveryOutcome | None = None
) -> dict[str, Any]:
    image = {
        "pk": {"S": "SEND#s"},
        "batchId": {"S": "b"},
        "status": {"S": status.value},
        "bucket": {"N": str(bucket_of(seq, 16))},
    }
    image |= {"delivery": {"S": delivery.value}} if delivery else {}
    return image | ({"resentAs": {"S": "r"}} if resent else {})


def _totals(**changed: int) -> dict[str, int]:
    return dict.fromkeys(CountChange().totals(), 0) | changed


def _record(event: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    data: dict[str, Any] = {"Keys": {"pk": {"S": "SEND#s"}}}
    data |= {"OldImage": old} if old else {}
    data |= {"NewImage": new} if new else {}
    return {"eventID": event, "eventName": event, "dynamodb": data}


def test_a_status_change_moves_one_row_between_counts_in_its_stretch() -> None:
    # Given a row changed from QUEUED to SENT
    # When the consumer counts the change
    change = count_changes([_record("MODIFY", _image(EmailStatus.QUEUED), _image(EmailStatus.SENT))])["b"]
    # Then one row moves from queued to sent, in the row's stretch of the histogram
    assert change.totals() == _totals(queued=-1, sent=1)
    assert dict(change.histogram) == {"q3": -1, "s3": 1}


def test_a_claim_which_changes_no_status_changes_no_count() -> None:
    # Given a row claimed: written again, still QUEUED
    claimed = _record("MODIFY", _image(EmailStatus.QUEUED), _image(EmailStatus.QUEUED))
    # When the consumer counts the change
    changes = count_changes([claimed])
    # Then no count changes
    assert changes["b"].is_empty()


def test_a_row_deleted_by_its_time_to_live_is_not_uncounted() -> None:
    # Given a SENT row removed by its time to live
    expired = _record("REMOVE", _image(EmailStatus.SENT), None)
    # When the consumer counts the removal
    changes = count_changes([expired])
    # Then no batch's count changes
    assert changes == {}


def test_a_dead_letter_re_drive_counts_as_one_resend() -> None:
    # Given an ERROR row marked as resent by a dead-letter re-drive
    marked = _record("MODIFY", _image(EmailStatus.ERROR), _image(EmailStatus.ERROR, resent=True))
    # When the consumer counts the change
    change = count_changes([marked])["b"]
    # Then its batch counts one resend
    assert change.resent == 1


def test_changes_of_one_batch_in_one_delivery_add_up() -> None:
    # Given a delivery with two creations and one status change of rows of one batch
    records = [
        _record("INSERT", None, _image(EmailStatus.QUEUED, seq=0)),
        _record("MODIFY", _image(EmailStatus.QUEUED, seq=0), _image(EmailStatus.SENT, seq=0)),
        _record("INSERT", None, _image(EmailStatus.PENDING, seq=15)),
    ]
    # When the consumer counts them
    change = count_changes(records)["b"]
    # Then the batch's totals and histogram are their sum
    assert change.totals() == _totals(pending=1, sent=1)
    assert dict(change.histogram) == {"s0": 1, "p15": 1}


@pytest.mark.parametrize(
    ("before", "after", "totals"),
    [
        (None, DeliveryOutcome.DELIVERED, _totals(delivered=1)),
        (DeliveryOutcome.DELIVERED, DeliveryOutcome.COMPLAINED, _totals(delivered=-1, complained=1)),
        (DeliveryOutcome.DELAYED, DeliveryOutcome.BOUNCED, _totals(delayed=-1, bounced=1)),
        (None, DeliveryOutcome.REJECTED, _totals(rejected=1)),
        (DeliveryOutcome.BOUNCED, DeliveryOutcome.BOUNCED, _totals()),
    ],
)
def test_a_delivery_outcome_moves_one_row_between_outcome_counts(
    before: DeliveryOutcome | None, after: DeliveryOutcome, totals: dict[str, int]
) -> None:
    # Given a SENT row whose outcome an SES event changes (or repeats): its status and stretch stay put
    old, new = _image(EmailStatus.SENT, delivery=before), _image(EmailStatus.SENT, delivery=after)
    # When the consumer counts the change
    change = count_changes([_record("MODIFY", old, new)])["b"]
    # Then one row moves between outcome counts (none for a repeat), and the histogram is unchanged
    assert change.totals() == totals
    assert dict(change.histogram) == {}


def test_an_outcome_recorded_before_the_worker_s_result_counts_once() -> None:
    # Given an SES event that overtook the worker's SENT write: the row was QUEUED and delivered, then SENT
    records = [
        _record("MODIFY", _image(EmailStatus.QUEUED), _image(EmailStatus.QUEUED, delivery=DeliveryOutcome.DELIVERED)),
        _record(
            "MODIFY",
            _image(EmailStatus.QUEUED, delivery=DeliveryOutcome.DELIVERED),
            _image(EmailStatus.SENT, delivery=DeliveryOutcome.DELIVERED),
        ),
    ]
    # When the consumer counts both changes
    totals = count_changes(records)["b"].totals()
    # Then the row counts once as sent and once as delivered
    assert totals == _totals(queued=-1, sent=1, delivered=1)


@pytest.mark.parametrize("rows", [1, 250])
def test_the_counts_follow_the_rows_through_sending(
    upload: Upload, stack: LocalResources, drain: Any, rows: int
) -> None:
    # Given an upload of some rows
    batch_id = upload(campaign_csv(rows)).json()["batchId"]
    # When the worker sends them all
    drain()
    # Then the batch counts every row as sent
    assert _counts(stack, batch_id) == (0, 0, rows, 0)
