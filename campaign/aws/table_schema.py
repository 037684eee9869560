"""The table layout: key names, index names and the definition the local stack and tests create.

Terraform declares the same table (terraform/table.tf); tests/infra holds the two together.
"""

import zlib
from typing import Any

PARTITION_KEY = "pk"

# Send rows carry these index keys; batch items do not, so both indexes are sparse.
STATUS_INDEX = "status-created"
STATUS_INDEX_PK = "statusKey"
BATCH_STATUS_INDEX = "batch-status-created"
BATCH_STATUS_INDEX_PK = "batchStatusKey"
# Shared sort key of both indexes: "<createdAt>#<sendId>", so string order is newest-first order
# and it does not change when the status does (cursors stay valid across status changes).
CREATED_SORT_KEY = "createdKey"

# Write sharding of both index partition keys. A DynamoDB partition takes about 1,000 writes/s, and a
# million-row campaign writes every row into one status (QUEUED) and one batch+status partition within
# minutes: eight shards spread that over eight partitions (about 8,000 rows/s, above what one ingest
# produces). Listings merge the shards, which are sorted the same way.
INDEX_SHARDS = 8

SEND_PREFIX = "SEND#"
BATCH_PREFIX = "BATCH#"


def send_pk(send_id: str) -> str:
    return f"{SEND_PREFIX}{send_id}"


def batch_pk(batch_id: str) -> str:
    return f"{BATCH_PREFIX}{batch_id}"


def shard_of(send_id: str) -> int:
    """A stable shard per send: its index keys change partition with the status, never with time."""
    return zlib.crc32(send_id.encode()) % INDEX_SHARDS


def status_key(status: str, send_id: str) -> str:
    return f"{status}#{shard_of(send_id)}"


def batch_status_key(batch_id: str, status: str, send_id: str) -> str:
    return f"{batch_id}#{status}#{shard_of(send_id)}"


def status_partitions(status: str) -> list[str]:
    return [f"{status}#{shard}" for shard in range(INDEX_SHARDS)]


def batch_status_partitions(batch_id: str, status: str) -> list[str]:
    return [f"{batch_id}#{status}#{shard}" for shard in range(INDEX_SHARDS)]


def created_key(created_at: str, send_id: str) -> str:
    return f"{created_at}#{send_id}"


def _index(name: str, partition: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": partition, "KeyType": "HASH"},
            {"AttributeName": CREATED_SORT_KEY, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


def create_table_request(table_name: str) -> dict[str, Any]:
    """The CreateTable arguments, mirroring terraform/table.tf."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"}
            for name in (PARTITION_KEY, STATUS_INDEX_PK, BATCH_STATUS_INDEX_PK, CREATED_SORT_KEY)
        ],
        "GlobalSecondaryIndexes": [
            _index(STATUS_INDEX, STATUS_INDEX_PK),
            _index(BATCH_STATUS_INDEX, BATCH_STATUS_INDEX_PK),
        ],
    }
