"""Batch records in DynamoDB: the atomic claim that makes an upload idempotent, and its lease."""

from typing import NamedTuple

from campaign.aws.clients import client
from campaign.aws.conditional import conditional_write, create_unless_exists
from campaign.aws.items import (
    accepted_elsewhere_attribute,
    batch_from_item,
    batch_item,
    skipped_rows_attribute,
    to_attributes,
)
from campaign.aws.table_schema import PARTITION_KEY, batch_pk
from campaign.domain.models import BatchRecord, BatchState
from campaign.domain.retention import Retention

# The progress counters every state change writes together, so a reader never sees them disagree.
_COUNTERS = (
    "#total = :total, skipped = :skipped, enqueued = :enqueued, notEnqueued = :notEnqueued, "
    "skippedRows = :skippedRows, rowsRead = :rowsRead, alreadyAccepted = :alreadyAccepted, "
    "alreadyAcceptedRows = :alreadyAcceptedRows"
)


def _names(expressions: str) -> dict[str, str]:
    """DynamoDB refuses a name placeholder that the expressions do not use."""
    return {name: value for name, value in (("#st", "state"), ("#total", "total")) if name in expressions}


def _counter_values(batch: BatchRecord) -> dict[str, object]:
    return {
        ":total": batch.total,
        ":skipped": batch.skipped,
        ":enqueued": batch.enqueued,
        ":notEnqueued": batch.not_enqueued,
        ":skippedRows": skipped_rows_attribute(batch.skipped_rows),
        ":rowsRead": batch.rows_read,
        ":alreadyAccepted": batch.already_accepted,
        ":alreadyAcceptedRows": accepted_elsewhere_attribute(batch.already_accepted_rows),
    }


class NewBatch(NamedTuple):
    batch: BatchRecord


class ExistingBatch(NamedTuple):
    batch: BatchRecord


class Batches:
    def __init__(self, table_name: str, retention: Retention) -> None:
        self._table = table_name
        self._retention = retention
        self._ddb = client("dynamodb")

    def claim(self, batch: BatchRecord) -> NewBatch | ExistingBatch:
        """Create the batch unless it exists: one conditional PutItem, so concurrent uploads of the same
        file agree on a single winner without a read-then-write race."""
        item = batch_item(batch, self._retention.expiry_of(batch.created_at))
        found = create_unless_exists(self._ddb, self._table, item)
        return NewBatch(batch) if found is None else ExistingBatch(batch_from_item(found))

    def take_over(self, batch: BatchRecord, lease_until: str) -> bool:
        """Take the lease of an ingest whose holder died (its lease lapsed), unless someone else did."""
        return self.renew(batch.batch_id, batch.lease_until or "", lease_until)

    def renew(self, batch_id: str, held: str, lease_until: str) -> bool:
        """Move the lease on from `held`; False if it is not `held` any more (taken over, or finished)."""
        return self._update(
            batch_id,
            "SET leaseUntil = :new",
            "#st = :ingesting AND leaseUntil = :old",
            {":new": lease_until, ":old": held, ":ingesting": BatchState.INGESTING.value},
        )

    def start(self, batch: BatchRecord, previous: BatchState) -> bool:
        """Begin ingesting a reserved (or refused) upload: only one starter wins the state change."""
        return self._update(
            batch.batch_id,
            "SET #st = :ingesting, leaseUntil = :lease, " + _COUNTERS + " REMOVE errorCode, errorMessage",
            "#st = :previous",
            {":ingesting": BatchState.INGESTING.value, ":lease": batch.lease_until, ":previous": previous.value}
            | _counter_values(batch),
        )

    def declare_size(self, batch_id: str, size: int, state: BatchState) -> bool:
        """A new reservation of a batch still waiting for its file (or refused) replaces the size the
        last one declared; False if the batch left that state meanwhile."""
        return self._update(
            batch_id, "SET declaredSize = :size", "#st = :state", {":size": size, ":state": state.value}
        )

    def checkpoint(self, batch: BatchRecord, held_lease: str | None) -> bool:
        """Record progress and extend the lease; False if the lease was taken over meanwhile."""
        return self._update(
            batch.batch_id,
            "SET leaseUntil = :lease, " + _COUNTERS,
            "#st = :ingesting AND leaseUntil = :held",
            {":lease": batch.lease_until, ":held": held_lease, ":ingesting": BatchState.INGESTING.value}
            | _counter_values(batch),
        )

    def fail(self, batch: BatchRecord, held_lease: str | None, code: str, message: str) -> bool:
        """The file was refused whole before any row was written."""
        return self._update(
            batch.batch_id,
            "SET #st = :failed, errorCode = :code, errorMessage = :message, " + _COUNTERS + " REMOVE leaseUntil",
            "#st = :ingesting AND leaseUntil = :held",
            {
                ":failed": BatchState.FAILED.value,
                ":code": code,
                ":message": message,
                ":held": held_lease,
                ":ingesting": BatchState.INGESTING.value,
            }
            | _counter_values(batch),
        )

    def finish(self, batch: BatchRecord) -> None:
        self._update(
            batch.batch_id,
            "SET #st = :done, " + _COUNTERS + " REMOVE leaseUntil",
            None,
            {":done": BatchState.DONE.value} | _counter_values(batch),
        )

    def _update(self, batch_id: str, update: str, condition: str | None, values: dict[str, object]) -> bool:
        """One UpdateItem of the batch record; False when its condition (if any) does not hold."""
        args: dict[str, object] = {
            "TableName": self._table,
            "Key": {PARTITION_KEY: {"S": batch_pk(batch_id)}},
            "UpdateExpression": update,
            "ExpressionAttributeNames": _names(update + (condition or "")),
            "ExpressionAttributeValues": to_attributes(values),
        }
        if condition is not None:
            args["ConditionExpression"] = condition
        return conditional_write(self._ddb.update_item, **args)[1]

    def get(self, batch_id: str) -> BatchRecord | None:
        response = self._ddb.get_item(TableName=self._table, Key={PARTITION_KEY: {"S": batch_pk(batch_id)}})
        return batch_from_item(response["Item"]) if "Item" in response else None
