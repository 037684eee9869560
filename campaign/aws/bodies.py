"""Bodies too large to sit in their send rows, read by the worker that sends them and by listings
that show them. A row's `body_key` is the table key of the item that holds its body: its message
key's item when no other row of its ingest carries the same body, a body item the rows share when
some do (campaign/services/ingest.py decides)."""

from collections.abc import Mapping, Sequence
from functools import lru_cache

from campaign.aws.bulk import get_all, put_all
from campaign.aws.clients import client
from campaign.aws.items import body_from_item, body_item
from campaign.aws.table_schema import PARTITION_KEY


class Bodies:
    def __init__(self, table_name: str) -> None:
        self._table = table_name
        self._ddb = client("dynamodb")

    def put(self, bodies: Mapping[str, str], expires_at: int) -> None:
        """Store shared bodies by item key. A body is immutable, so writing it again (a resumed
        ingest) is harmless."""
        put_all(self._ddb, self._table, [body_item(key, content, expires_at) for key, content in bodies.items()])

    def get_many(self, body_keys: Sequence[str]) -> dict[str, str]:
        keys = [{PARTITION_KEY: {"S": key}} for key in dict.fromkeys(body_keys)]
        items = get_all(self._ddb, self._table, keys, consistent=False)
        return {item[PARTITION_KEY]["S"]: body_from_item(item) for item in items}


class CachedBodies:
    """The worker's view: a body is written before any message that needs it is queued, and never
    changes, so each container reads it at most once (a file that mails one body to everyone costs
    one read per container, not one per email)."""

    def __init__(self, table_name: str, max_entries: int = 256) -> None:
        self._table = table_name
        self._ddb = client("dynamodb")
        self.get = lru_cache(maxsize=max_entries)(self._read)

    def _read(self, body_key: str) -> str:
        response = self._ddb.get_item(TableName=self._table, Key={PARTITION_KEY: {"S": body_key}}, ConsistentRead=True)
        if "Item" not in response:
            raise LookupError(f"body {body_key} is missing")
        return body_from_item(response["Item"])
