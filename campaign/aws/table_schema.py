"""The table layout: item keys, index names and the definition the local stack and tests create.

Terraform declares the same table (terraform/table.tf); tests/infra holds the two together.

One table, six kinds of item (docs/DESIGN.md, "Data model"):

* `SEND#<sendId>`: a send row, small (its body inline only while the row fits one write unit);
* `BODY#<bodyKey>`: a body too large to sit in its rows that several rows of a batch share, stored
  once per batch and content;
* `MSG#<messageKey>`: a message key, held by the first upload that accepted the message until
  `acceptedUntil` (the deduplication window); it also holds the body of its row when that body is
  too large for the row and no other row of the ingest carries it (TTL: the retention, like rows);
* `BATCH#<batchId>`: an upload's record and summary;
* `COUNTS#<batchId>`: a batch's listing summary (positions, status counts kept by the stream consumer);
* `SUPP#<address>`: a suppressed recipient (the address as the CSV rules compare recipients), kept
  until removed (no time to live).

Five sparse indexes: the listing index (send rows by batch, status class and stripe, sorted by
position), the pending index (PENDING rows only, same keys), the delivery index (rows SES reported
on, by batch, latest delivery outcome and stripe, sorted by position), the batch index (every batch
with rows, newest first) and the suppression index (every suppression, newest first).
"""

from typing import Any, NamedTuple

from campaign.domain.listing_plan import OUTCOME_FAMILIES, Family, is_outcome_family
from campaign.domain.status import DeliveryOutcome, EmailStatus, ListingClass, listing_class
from campaign.limits import LISTING_STRIPES

PARTITION_KEY = "pk"
# DynamoDB's time to live: items whose `expiresAt` (epoch seconds) has passed are deleted for free.
TTL_ATTRIBUTE = "expiresAt"
# Until when (epoch seconds) a message key blocks a second send of its message.
ACCEPTED_UNTIL = "acceptedUntil"

SEND_PREFIX = "SEND#"
BODY_PREFIX = "BODY#"
MESSAGE_PREFIX = "MSG#"
BATCH_PREFIX = "BATCH#"
COUNTS_PREFIX = "COUNTS#"
SUPPRESSION_PREFIX = "SUPP#"
# The fleet's shared send-rate bucket (one item) and one circuit breaker item per provider.
PACE_KEY = "PACE#send"
BREAKER_PREFIX = "BREAKER#"

# The row indexes sort by position; `seq` is a number, so the order is numeric.
POSITION_KEY = "seq"
LISTING_INDEX = "batch-listing"
LISTING_KEY = "listKey"
PENDING_INDEX = "batch-pending"
PENDING_KEY = "pendingKey"
# Rows with a delivery outcome, by batch, outcome and stripe (the key is written with the outcome).
DELIVERY_INDEX = "batch-delivery"
DELIVERY_KEY = "deliveryKey"
BATCH_INDEX = "batches-newest"
BATCH_INDEX_KEY = "batchesKey"
BATCH_ORDER_KEY = "batchOrder"
# Every batch with rows is in one partition of the batch index: batches are created at upload rate,
# and their summaries change a few times a second at most (the stream consumer batches its updates).
ALL_BATCHES = "BATCHES"
SUPPRESSION_INDEX = "suppressions-newest"
SUPPRESSION_INDEX_KEY = "suppressionsKey"
SUPPRESSION_ORDER_KEY = "suppressionOrder"
# Every suppression is in one partition of the suppression index: they are added at the rate of
# bounces, complaints and unsubscribes, far below what one partition takes.
ALL_SUPPRESSIONS = "SUPPRESSIONS"
# What a page of the suppression list shows.
SUPPRESSION_ATTRIBUTES = ("email", "reason", "source", "suppressedAt")

# What a page of listEmailStatus shows; nothing else is copied into the row indexes (all three).
LISTED_ATTRIBUTES = (
    "sendId",
    "batchId",
    "email",
    "subject",
    "status",
    "content",
    "bodyKey",
    "contentJsonBytes",
    "createdAt",
    "updatedAt",
    "attempts",
    "error",
    # Which provider took the message, and its id there.
    "provider",
    "providerMessageId",
    "resentAs",
    "resendOf",
    # Why an ERROR row ended so; with a delivery event it tells `sentAfterAll`.
    "errorKind",
    # What the mailbox provider said (SES delivery events): shown with the row.
    "delivery",
    "deliveryAt",
    "bounceType",
    "bounceSubType",
)
# A batch's counts per stretch of its file (a map), the file's data records it divides, and the
# stretch a row is in (campaign/domain/histogram.py).
HISTOGRAM = "h"
FILE_POSITIONS = "filePositions"
HISTOGRAM_BUCKET = "bucket"
# What a global listing needs to plan a page from a batch's summary.
BATCH_SUMMARY_ATTRIBUTES = (
    "batchId",
    "createdAt",
    "positions",
    FILE_POSITIONS,
    "pending",
    "queued",
    "sent",
    "error",
    "resent",
    HISTOGRAM,
)


class NewestFirst(NamedTuple):
    """A list kept whole in one partition of its own index (the batches, the suppressions), in the
    order of its order key: read backwards, newest first, a page at a time."""

    index_name: str
    partition_key: str
    partition: str
    order_key: str

    def query(self, table_name: str, bound: str = "", values: dict[str, str] | None = None) -> dict[str, Any]:
        """A Query's arguments (a key condition, never a Scan or a filter): the list newest first,
        within `bound` if given, a condition on the order key (`#o`), whose placeholders `values` fill
        (order keys are strings)."""
        condition = "#k = :all" + (f" AND {bound}" if bound else "")
        names = {"#k": self.partition_key} | ({"#o": self.order_key} if bound else {})
        return {
            "TableName": table_name,
            "IndexName": self.index_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {
                name: {"S": value} for name, value in ({":all": self.partition} | (values or {})).items()
            },
            "ScanIndexForward": False,
        }


BATCHES_NEWEST_FIRST = NewestFirst(BATCH_INDEX, BATCH_INDEX_KEY, ALL_BATCHES, BATCH_ORDER_KEY)
SUPPRESSIONS_NEWEST_FIRST = NewestFirst(
    SUPPRESSION_INDEX, SUPPRESSION_INDEX_KEY, ALL_SUPPRESSIONS, SUPPRESSION_ORDER_KEY
)


def send_pk(send_id: str) -> str:
    return f"{SEND_PREFIX}{send_id}"


def body_pk(body_key: str) -> str:
    return f"{BODY_PREFIX}{body_key}"


def message_pk(message_key: str) -> str:
    return f"{MESSAGE_PREFIX}{message_key}"


def batch_pk(batch_id: str) -> str:
    return f"{BATCH_PREFIX}{batch_id}"


def counts_pk(batch_id: str) -> str:
    return f"{COUNTS_PREFIX}{batch_id}"


def suppression_pk(email_key: str) -> str:
    return f"{SUPPRESSION_PREFIX}{email_key}"


def suppression_order(at: str, email_key: str) -> str:
    """Newest first when read backwards; the address makes the order total (and each key unique)."""
    return f"{at}#{email_key}"


def stripe_of(seq: int) -> int:
    """Positions are striped round-robin, so a range of positions is spread evenly over the stripes
    and an ingest (which writes positions in order) keeps every stripe's partition busy at once."""
    return seq % LISTING_STRIPES


def family_key(batch_id: str, family: Family, stripe: int) -> str:
    """The index partition of one stripe of one family of a batch."""
    if family is Family.PENDING:
        return f"{batch_id}#{stripe}"
    return f"{batch_id}#{family.value}#{stripe}"


def index_of(family: Family) -> tuple[str, str]:
    """(index name, partition key attribute) that holds a family."""
    if family is Family.PENDING:
        return PENDING_INDEX, PENDING_KEY
    if is_outcome_family(family):
        return DELIVERY_INDEX, DELIVERY_KEY
    return LISTING_INDEX, LISTING_KEY


def delivery_key(batch_id: str, seq: int, outcome: DeliveryOutcome) -> str:
    """The delivery index partition of a row whose latest outcome is `outcome`: written in the same
    UpdateItem as the outcome, so an entry always sits in its outcome's family."""
    return family_key(batch_id, OUTCOME_FAMILIES[outcome], stripe_of(seq))


def listing_keys(batch_id: str, seq: int, status: EmailStatus) -> dict[str, str]:
    """The index keys that follow the status; written with every status change. The pending key is
    only present while the row is PENDING (callers remove it otherwise)."""
    listed = listing_class(status)
    family = Family.OPEN if listed is ListingClass.OPEN else Family(listed.value)
    keys = {LISTING_KEY: family_key(batch_id, family, stripe_of(seq))}
    if status is EmailStatus.PENDING:
        keys[PENDING_KEY] = family_key(batch_id, Family.PENDING, stripe_of(seq))
    return keys


def batch_order(created_at: str, batch_id: str) -> str:
    return f"{created_at}#{batch_id}"


def _index(name: str, partition: str, sort: str, attributes: tuple[str, ...]) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": partition, "KeyType": "HASH"},
            {"AttributeName": sort, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(attributes)},
    }


def create_table_request(table_name: str) -> dict[str, Any]:
    """The CreateTable arguments, mirroring terraform/table.tf (TTL is a separate call)."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": LISTING_KEY, "AttributeType": "S"},
            {"AttributeName": PENDING_KEY, "AttributeType": "S"},
            {"AttributeName": DELIVERY_KEY, "AttributeType": "S"},
            {"AttributeName": POSITION_KEY, "AttributeType": "N"},
            {"AttributeName": BATCH_INDEX_KEY, "AttributeType": "S"},
            {"AttributeName": BATCH_ORDER_KEY, "AttributeType": "S"},
            {"AttributeName": SUPPRESSION_INDEX_KEY, "AttributeType": "S"},
            {"AttributeName": SUPPRESSION_ORDER_KEY, "AttributeType": "S"},
        ],
        "GlobalSecondaryIndexes": [
            _index(LISTING_INDEX, LISTING_KEY, POSITION_KEY, LISTED_ATTRIBUTES),
            _index(PENDING_INDEX, PENDING_KEY, POSITION_KEY, LISTED_ATTRIBUTES),
            _index(DELIVERY_INDEX, DELIVERY_KEY, POSITION_KEY, LISTED_ATTRIBUTES),
            _index(BATCH_INDEX, BATCH_INDEX_KEY, BATCH_ORDER_KEY, BATCH_SUMMARY_ATTRIBUTES),
            _index(SUPPRESSION_INDEX, SUPPRESSION_INDEX_KEY, SUPPRESSION_ORDER_KEY, SUPPRESSION_ATTRIBUTES),
        ],
        # The stream feeds the consumer that keeps each batch's status counts (worker/count_changes.py).
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }


def time_to_live_request(table_name: str) -> dict[str, Any]:
    return {"TableName": table_name, "TimeToLiveSpecification": {"Enabled": True, "AttributeName": TTL_ATTRIBUTE}}
