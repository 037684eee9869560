"""Reads of send rows through the two indexes: always a key-condition Query, never a Scan or filter."""

from typing import Any, NamedTuple

from campaign.aws.clients import client
from campaign.aws.items import Item, send_row_from_item
from campaign.aws.table_schema import (
    BATCH_STATUS_INDEX,
    BATCH_STATUS_INDEX_PK,
    CREATED_SORT_KEY,
    STATUS_INDEX,
    STATUS_INDEX_PK,
)
from campaign.domain.models import SendRow

_INDEX_PARTITION = {STATUS_INDEX: STATUS_INDEX_PK, BATCH_STATUS_INDEX: BATCH_STATUS_INDEX_PK}


class IndexPartition(NamedTuple):
    """One index partition, e.g. status "SENT", or batch+status "<batchId>#SENT"."""

    index_name: str
    value: str


class IndexPage(NamedTuple):
    rows: list[SendRow]
    next_key: Item | None


def _key_condition(partition: IndexPartition, lower: str | None, upper: str | None) -> tuple[str, dict[str, Any]]:
    condition = "#p = :p"
    values: dict[str, Any] = {":p": {"S": partition.value}}
    if lower is not None and upper is not None:
        condition += " AND #k BETWEEN :lo AND :hi"
        values |= {":lo": {"S": lower}, ":hi": {"S": upper}}
    elif lower is not None:
        condition += " AND #k >= :lo"
        values[":lo"] = {"S": lower}
    elif upper is not None:
        condition += " AND #k <= :hi"
        values[":hi"] = {"S": upper}
    return condition, values


class SendIndex:
    def __init__(self, table_name: str) -> None:
        self._table = table_name
        self._ddb = client("dynamodb")

    def _query_args(self, partition: IndexPartition, lower: str | None, upper: str | None) -> dict[str, Any]:
        condition, values = _key_condition(partition, lower, upper)
        names = {"#p": _INDEX_PARTITION[partition.index_name]}
        if "#k" in condition:
            names["#k"] = CREATED_SORT_KEY
        return {
            "TableName": self._table,
            "IndexName": partition.index_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def newest_first(
        self,
        partition: IndexPartition,
        *,
        lower: str | None,
        upper: str | None,
        limit: int,
        start_key: Item | None = None,
    ) -> IndexPage:
        """One page, newest first, of the rows whose sort key lies in [lower, upper]."""
        args = self._query_args(partition, lower, upper) | {"ScanIndexForward": False, "Limit": limit}
        if start_key is not None:
            args["ExclusiveStartKey"] = start_key
        response = self._ddb.query(**args)
        rows = [send_row_from_item(item) for item in response.get("Items", [])]
        return IndexPage(rows=rows, next_key=response.get("LastEvaluatedKey"))

    def count(self, partition: IndexPartition) -> int:
        """Rows in one partition (Select=COUNT reads keys only, page by page)."""
        args = self._query_args(partition, None, None) | {"Select": "COUNT"}
        total = 0
        while True:
            response = self._ddb.query(**args)
            total += int(response["Count"])
            if "LastEvaluatedKey" not in response:
                return total
            args["ExclusiveStartKey"] = response["LastEvaluatedKey"]
