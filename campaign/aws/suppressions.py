"""The suppression list: recipients no email is sent to, until an operator removes them.

One item per address (`SUPP#<address>`, the address as the CSV rules compare recipients: normalized,
lower case), with the reason, where it came from and when; no time to live. The ingest and the worker
ask about many addresses at once (BatchGetItem, 100 a request); the list is read a page at a time from
the suppression index, newest first (a key condition, never a Scan or a filter).
"""

from collections.abc import Collection

from campaign.aws.bulk import get_all
from campaign.aws.clients import client
from campaign.aws.conditional import create_unless_exists
from campaign.aws.items import Item, suppression_from_item, suppression_item
from campaign.aws.table_schema import (
    PARTITION_KEY,
    SUPPRESSION_PREFIX,
    SUPPRESSIONS_NEWEST_FIRST,
    suppression_order,
    suppression_pk,
)
from campaign.domain.clock import now_iso
from campaign.domain.cursor import decode_suppression_cursor, encode_suppression_cursor
from campaign.domain.models import Suppression, SuppressionReason
from campaign.limits import MAX_PAGE_SIZE


class Suppressions:
    def __init__(self, table_name: str) -> None:
        self._table = table_name
        self._ddb = client("dynamodb")

    def add(self, email_key: str, reason: SuppressionReason, source: str) -> bool:
        """Suppress an address; True if it was not suppressed yet. Idempotent: an address already on
        the list keeps its first reason, source and time."""
        return self.add_or_get(email_key, reason, source)[1]

    def add_or_get(self, email_key: str, reason: SuppressionReason, source: str) -> tuple[Suppression, bool]:
        """The address's suppression as stored, and whether this call added it: one conditional
        PutItem, which returns the existing item when the address is suppressed already."""
        suppression = Suppression(email_key, reason, source, now_iso())
        found = create_unless_exists(self._ddb, self._table, suppression_item(suppression))
        return (suppression, True) if found is None else (suppression_from_item(found), False)

    def remove(self, email_key: str) -> bool:
        """Take an address off the list; True if it was on it."""
        response = self._ddb.delete_item(
            TableName=self._table,
            Key={PARTITION_KEY: {"S": suppression_pk(email_key)}},
            ReturnValues="ALL_OLD",
        )
        return "Attributes" in response

    def suppressed(self, email_keys: Collection[str]) -> set[str]:
        """Which of these addresses are suppressed (reads their keys only)."""
        return {_email_key(item) for item in self._read(email_keys, "#pk", {"#pk": PARTITION_KEY})}

    def reasons(self, email_keys: Collection[str]) -> dict[str, SuppressionReason]:
        """The suppressed ones among these addresses, with why: the same read as `suppressed`, with
        the reason (an item this small costs the same either way)."""
        items = self._read(email_keys, "#pk, #reason", {"#pk": PARTITION_KEY, "#reason": "reason"})
        return {_email_key(item): SuppressionReason(item["reason"]["S"]) for item in items}

    def page(self, first: int, after: str | None) -> tuple[list[Suppression], str | None]:
        """Up to `first` suppressions, newest first, starting after the cursor `after` (from an earlier
        page); and the cursor of the next page, None at the end. InvalidCursorError for a cursor this
        service did not issue. The index is eventually consistent: a suppression just added may show
        a moment later."""
        if not 1 <= first <= MAX_PAGE_SIZE:
            raise ValueError(f"first must be between 1 and {MAX_PAGE_SIZE}")
        if after is None:
            query = SUPPRESSIONS_NEWEST_FIRST.query(self._table)
        else:  # the suppressions older than the cursor's
            query = SUPPRESSIONS_NEWEST_FIRST.query(
                self._table, "#o < :after", {":after": decode_suppression_cursor(after)}
            )
        # One more than the page, to know whether another follows (a Query stops at 1 MB: the paginator
        # goes on if it did).
        pages = self._ddb.get_paginator("query").paginate(
            **query, PaginationConfig={"MaxItems": first + 1, "PageSize": first + 1}
        )
        items: list[Item] = [item for page in pages for item in page.get("Items", [])]
        listed = [suppression_from_item(item) for item in items[:first]]
        if len(items) <= first:
            return listed, None
        last = listed[-1]
        return listed, encode_suppression_cursor(suppression_order(last.at, last.email))

    def _read(self, email_keys: Collection[str], projection: str, names: dict[str, str]) -> list[Item]:
        """The suppression items among these addresses (BatchGetItem, 100 keys a request, unprocessed
        keys retried), strongly consistent: a suppression added a moment ago counts."""
        keys = _keys(email_keys)
        if not keys:
            return []
        return get_all(self._ddb, self._table, keys, consistent=True, projection=projection, names=names)


def _email_key(item: Item) -> str:
    return str(item[PARTITION_KEY]["S"]).removeprefix(SUPPRESSION_PREFIX)


def _keys(email_keys: Collection[str]) -> list[Item]:
    # BatchGetItem refuses a request that names a key twice (two messages of a worker's batch may be
    # for the same recipient).
    return [{PARTITION_KEY: {"S": suppression_pk(key)}} for key in dict.fromkeys(email_keys)]
