"""Batch records in DynamoDB: the atomic claim that makes an upload idempotent, and its lease."""

from dataclasses import dataclass

from botocore.exceptions import ClientError

from campaign.aws.clients import client
from campaign.aws.items import batch_from_item, batch_item, to_attributes
from campaign.aws.table_schema import PARTITION_KEY, batch_pk
from campaign.domain.models import BatchRecord, BatchState


@dataclass(frozen=True, slots=True)
class NewBatch:
    batch: BatchRecord


@dataclass(frozen=True, slots=True)
class ExistingBatch:
    batch: BatchRecord


class Batches:
    def __init__(self, table_name: str) -> None:
        self._table = table_name
        self._ddb = client("dynamodb")

    def claim(self, batch: BatchRecord) -> NewBatch | ExistingBatch:
        """Create the batch unless it exists: one conditional PutItem, so concurrent uploads of the same
        file agree on a single winner without a read-then-write race."""
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=batch_item(batch),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return ExistingBatch(batch_from_item(exc.response["Item"]))
        return NewBatch(batch)

    def take_over(self, batch: BatchRecord, lease_until: str) -> bool:
        """Take the lease of an ingest whose holder died (its lease lapsed), unless someone else did."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={PARTITION_KEY: {"S": batch_pk(batch.batch_id)}},
                UpdateExpression="SET leaseUntil = :new",
                ConditionExpression="#st = :ingesting AND leaseUntil = :old",
                ExpressionAttributeNames={"#st": "state"},
                ExpressionAttributeValues=to_attributes(
                    {":new": lease_until, ":old": batch.lease_until, ":ingesting": BatchState.INGESTING.value}
                ),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def finish(self, batch_id: str, *, enqueued: int, not_enqueued: int) -> None:
        self._ddb.update_item(
            TableName=self._table,
            Key={PARTITION_KEY: {"S": batch_pk(batch_id)}},
            UpdateExpression="SET #st = :done, enqueued = :enqueued, notEnqueued = :failed REMOVE leaseUntil",
            ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues=to_attributes(
                {":done": BatchState.DONE.value, ":enqueued": enqueued, ":failed": not_enqueued}
            ),
        )

    def get(self, batch_id: str) -> BatchRecord | None:
        response = self._ddb.get_item(TableName=self._table, Key={PARTITION_KEY: {"S": batch_pk(batch_id)}})
        return batch_from_item(response["Item"]) if "Item" in response else None
