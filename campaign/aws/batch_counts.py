"""A batch's listing summary (`COUNTS#<batchId>`): where its rows sit and how many there are of each
status and of each delivery outcome. The ingest writes its positions; the stream consumer keeps its
counts; listings and `batch` read it, one item whatever the batch's size."""

from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from campaign.aws.bulk import chunks
from campaign.aws.clients import client
from campaign.aws.items import batch_index_keys, batch_listing_from_item, counts_key, to_attributes
from campaign.aws.table_schema import BATCH_INDEX_KEY, BATCH_ORDER_KEY, FILE_POSITIONS, HISTOGRAM, TTL_ATTRIBUTE
from campaign.domain.models import BatchListing
from campaign.domain.retention import Retention
from campaign.limits import DYNAMODB_TRANSACT_MAX

_TOTALS = ("pending", "queued", "sent", "error", "resent", "delayed", "delivered", "bounced", "rejected", "complained")


class CountChange(NamedTuple):
    """What a run of row changes did to one batch's counts: the totals (by status, resends, and by
    delivery outcome), and the per-stretch counts (histogram key, as `histogram_key` names it, to change)."""

    pending: int = 0
    queued: int = 0
    sent: int = 0
    error: int = 0
    resent: int = 0
    delayed: int = 0
    delivered: int = 0
    bounced: int = 0
    rejected: int = 0
    complained: int = 0
    histogram: Mapping[str, int] = MappingProxyType({})

    def plus(self, other: "CountChange") -> "CountChange":
        totals = {name: getattr(self, name) + getattr(other, name) for name in _TOTALS}
        merged = Counter(self.histogram)
        merged.update(other.histogram)
        return CountChange(**totals, histogram=MappingProxyType({k: v for k, v in merged.items() if v}))

    def totals(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in _TOTALS}

    def is_empty(self) -> bool:
        return not any(self.totals().values()) and not any(self.histogram.values())


class BatchCounts:
    def __init__(self, table_name: str, retention: Retention) -> None:
        self._table = table_name
        self._retention = retention
        self._ddb = client("dynamodb")

    def start(self, batch_id: str, created_at: str, positions: int) -> None:
        """Make the batch listable: its positions, and its entry in the batch index. Written before any
        row, so the stream consumer's counts always land on an item that has them (and the empty
        per-stretch map its updates add to)."""
        self._ddb.update_item(
            TableName=self._table,
            Key=counts_key(batch_id),
            UpdateExpression=(
                "SET batchId = :batch, createdAt = :created, positions = if_not_exists(positions, :positions), "
                f"{FILE_POSITIONS} = :positions, {HISTOGRAM} = if_not_exists({HISTOGRAM}, :none), "
                f"{BATCH_INDEX_KEY} = :all, {BATCH_ORDER_KEY} = :order, {TTL_ATTRIBUTE} = :expires"
            ),
            ExpressionAttributeValues=to_attributes(
                {
                    ":batch": batch_id,
                    ":created": created_at,
                    ":positions": positions,
                    ":none": {},
                    ":all": batch_index_keys(created_at, batch_id)[BATCH_INDEX_KEY],
                    ":order": batch_index_keys(created_at, batch_id)[BATCH_ORDER_KEY],
                    ":expires": self._retention.expiry_of(created_at),
                }
            ),
        )

    def leave_index(self, batch_id: str) -> None:
        """A batch none of whose rows was queued is not worth a listing's read."""
        self._ddb.update_item(
            TableName=self._table,
            Key=counts_key(batch_id),
            UpdateExpression=f"REMOVE {BATCH_INDEX_KEY}, {BATCH_ORDER_KEY}",
        )

    def next_position(self, batch_id: str) -> int:
        """A position after every other of the batch, for a row an operator's re-drive adds."""
        response = self._ddb.update_item(
            TableName=self._table,
            Key=counts_key(batch_id),
            UpdateExpression="ADD positions :one",
            ConditionExpression="attribute_exists(positions)",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["positions"]["N"]) - 1

    def get(self, batch_id: str) -> BatchListing | None:
        response = self._ddb.get_item(TableName=self._table, Key=counts_key(batch_id))
        item = response.get("Item")
        return batch_listing_from_item(item) if item and "createdAt" in item else None

    def apply(self, changes: Mapping[str, CountChange], token: str) -> None:
        """Add each batch's change, in one transaction per 100 batches. `token` (at most 32 characters)
        names this set of changes: DynamoDB applies a transaction whose token it saw in the last ten
        minutes only once, so a consumer retried after its write succeeded does not count twice."""
        updates = [(batch_id, change) for batch_id, change in sorted(changes.items()) if not change.is_empty()]
        for number, chunk in enumerate(chunks(updates, DYNAMODB_TRANSACT_MAX)):
            self._ddb.transact_write_items(
                TransactItems=[self._addition(batch_id, change) for batch_id, change in chunk],
                ClientRequestToken=f"{token[:32]}-{number}",
            )

    def _addition(self, batch_id: str, change: CountChange) -> dict[str, object]:
        """ADD to the totals (top-level numbers); SET each stretch's count (a map entry: ADD cannot
        reach into a map) from what it was. Names go through placeholders (`error` is reserved)."""
        totals = {name: amount for name, amount in change.totals().items() if amount}
        stretches = {key: amount for key, amount in change.histogram.items() if amount}
        names = {f"#{name}": name for name in totals} | {f"#{key}": key for key in stretches}
        values: dict[str, object] = {f":{name}": amount for name, amount in totals.items()}
        values |= {f":{key}": amount for key, amount in stretches.items()}
        clauses = []
        if stretches:
            values[":zero"] = 0
            names["#h"] = HISTOGRAM
            clauses.append(
                "SET " + ", ".join(f"#h.#{key} = if_not_exists(#h.#{key}, :zero) + :{key}" for key in stretches)
            )
        if totals:
            clauses.append("ADD " + ", ".join(f"#{name} :{name}" for name in totals))
        return {
            "Update": {
                "TableName": self._table,
                "Key": counts_key(batch_id),
                "UpdateExpression": " ".join(clauses),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": to_attributes(values),
            }
        }
