"""Time passing for a batch lease, without waiting for it."""

from campaign.aws.clients import client
from campaign.aws.items import to_attributes
from campaign.aws.table_schema import PARTITION_KEY, batch_pk
from scripts.local.provision import LocalResources


def expire_lease(stack: LocalResources, batch_id: str) -> None:
    """The lease of a crashed ingest lapses, as it would 60 s after its last renewal."""
    client("dynamodb").update_item(
        TableName=stack.table_name,
        Key={PARTITION_KEY: {"S": batch_pk(batch_id)}},
        UpdateExpression="SET leaseUntil = :past",
        ExpressionAttributeValues=to_attributes({":past": "2020-01-01T00:00:00.000000Z"}),
    )
