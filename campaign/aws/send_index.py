"""Reads for listings: the batch index (which batches, newest first), a batch's summary, and the row
indexes, a round of stripe queries side by side. Always key conditions, never a Scan or a filter."""

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from campaign.aws.clients import client
from campaign.aws.items import batch_listing_from_item, counts_key, send_row_from_item
from campaign.aws.table_schema import (
    BATCHES_NEWEST_FIRST,
    PENDING_INDEX,
    PENDING_KEY,
    POSITION_KEY,
    family_key,
    index_of,
)
from campaign.domain.listing_plan import Family, IndexAnswer, IndexQuery
from campaign.domain.models import BatchListing, SendRow
from campaign.limits import LISTING_STRIPES

# Queries of one round run side by side; a round has at most a few dozen.
_ROUND_THREADS = 32


class SendIndex:
    def __init__(self, table_name: str) -> None:
        self._table = table_name
        self._ddb = client("dynamodb")

    def batch_summary(self, batch_id: str) -> BatchListing | None:
        item = self._ddb.get_item(TableName=self._table, Key=counts_key(batch_id)).get("Item")
        return batch_listing_from_item(item) if item and "createdAt" in item else None

    def batch_summaries(self, *, lower: str | None, upper: str | None, limit: int) -> list[BatchListing]:
        """Batches whose order key (`<createdAt>#<batchId>`) lies in [lower, upper], newest first."""
        if lower is not None and upper is not None:
            bound = "#o BETWEEN :lo AND :hi"
        elif lower is not None:
            bound = "#o >= :lo"
        elif upper is not None:
            bound = "#o <= :hi"
        else:
            bound = ""
        values = {name: value for name, value in ((":lo", lower), (":hi", upper)) if value is not None}
        response = self._ddb.query(**BATCHES_NEWEST_FIRST.query(self._table, bound, values), Limit=limit)
        return [batch_listing_from_item(item) for item in response.get("Items", [])]

    def pending_rows(self, batch_id: str) -> list[SendRow]:
        """Every PENDING row of a batch (the pending index holds nothing else), for a re-drive."""
        paginator = self._ddb.get_paginator("query")
        rows: list[SendRow] = []
        for stripe in range(LISTING_STRIPES):
            pages = paginator.paginate(
                TableName=self._table,
                IndexName=PENDING_INDEX,
                KeyConditionExpression="#p = :p",
                ExpressionAttributeNames={"#p": PENDING_KEY},
                ExpressionAttributeValues={":p": {"S": family_key(batch_id, Family.PENDING, stripe)}},
            )
            rows.extend(send_row_from_item(item) for page in pages for item in page.get("Items", []))
        return rows

    def read_round(self, queries: Sequence[IndexQuery]) -> list[IndexAnswer]:
        """Every query of a round at once; the answers in the order of the queries."""
        if len(queries) == 1:
            return [self._read(queries[0])]
        with ThreadPoolExecutor(max_workers=min(_ROUND_THREADS, len(queries)), thread_name_prefix="round") as pool:
            return list(pool.map(self._read, queries))

    def _read(self, query: IndexQuery) -> IndexAnswer:
        index, partition_key = index_of(query.family)
        response = self._ddb.query(
            TableName=self._table,
            IndexName=index,
            KeyConditionExpression="#p = :p AND #s BETWEEN :lo AND :hi",
            ExpressionAttributeNames={"#p": partition_key, "#s": POSITION_KEY},
            ExpressionAttributeValues={
                ":p": {"S": family_key(query.batch_id, query.family, query.stripe)},
                ":lo": {"N": str(query.start)},
                ":hi": {"N": str(query.end - 1)},
            },
            Limit=query.limit,
        )
        rows = [send_row_from_item(item) for item in response.get("Items", [])]
        return IndexAnswer(rows=rows, truncated="LastEvaluatedKey" in response)
