"""Message keys: the first upload to accept a message holds its key for the deduplication window.

A key is taken with a conditional put inside TransactWriteItems, 100 keys a request: each put
succeeds only if no unexpired key exists, so two uploads that share rows, racing, agree on one holder
per row. A transaction is all or nothing; when some of its keys are held already, DynamoDB cancels it
and says which (with the holder's item), and the rest are put again without them.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from campaign.aws.bulk import IncompleteWriteError, chunks
from campaign.aws.clients import client
from campaign.aws.items import from_attributes, message_key_item, to_attributes
from campaign.aws.retry import attempts, backoff, is_throttling
from campaign.aws.table_schema import TTL_ATTRIBUTE
from campaign.domain.retention import Retention
from campaign.limits import DYNAMODB_TRANSACT_MAX

# Reasons a put is cancelled without being wrong: another transaction touched the item at the same
# moment, or DynamoDB is busy. Such puts are tried again.
_RETRY_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


class KeyClaim(NamedTuple):
    message_key: str
    send_id: str


class HeldElsewhere(NamedTuple):
    """The upload (batch) that accepted the message first, and its send."""

    batch_id: str
    send_id: str


class MessageKeys:
    def __init__(self, table_name: str, retention: Retention) -> None:
        self._table = table_name
        self._retention = retention
        self._ddb = client("dynamodb")

    def claim(self, batch_id: str, claims: Sequence[KeyClaim], now: datetime) -> dict[str, HeldElsewhere]:
        """Take every key that no other upload holds; returns those that one does (by message key).
        Keys this batch holds already (a resumed ingest) count as taken."""
        held: dict[str, HeldElsewhere] = {}
        pending = list(claims)
        setbacks = 0
        while pending:
            retry: list[KeyClaim] = []
            for chunk in chunks(pending, DYNAMODB_TRANSACT_MAX):
                retry.extend(self._put(batch_id, chunk, now, held))
            if retry and len(retry) == len(pending):  # nothing settled: back off before trying again
                if setbacks >= len(attempts()):
                    raise IncompleteWriteError(f"{len(retry)} message keys could not be written after retries")
                backoff(setbacks)
                setbacks += 1
            pending = retry
        return held

    def _put(
        self, batch_id: str, chunk: Sequence[KeyClaim], now: datetime, held: dict[str, HeldElsewhere]
    ) -> list[KeyClaim]:
        """One transaction; records the keys held elsewhere and returns the claims to put again."""
        expires_at = self._retention.key_expiry(now)
        try:
            self._ddb.transact_write_items(
                TransactItems=[self._put_request(batch_id, c, now, expires_at) for c in chunk]
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code != "TransactionCanceledException":
                if is_throttling(exc):
                    return list(chunk)
                raise
            return self._settle(batch_id, chunk, exc.response.get("CancellationReasons", []), held)
        return []

    def _put_request(self, batch_id: str, claim: KeyClaim, now: datetime, expires_at: int) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": message_key_item(claim.message_key, batch_id, claim.send_id, expires_at),
                # A key past its window is as good as absent (TTL deletes it within days, not at once).
                "ConditionExpression": "attribute_not_exists(pk) OR #expires < :now",
                "ExpressionAttributeNames": {"#expires": TTL_ATTRIBUTE},
                "ExpressionAttributeValues": to_attributes({":now": int(now.timestamp())}),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    @staticmethod
    def _settle(
        batch_id: str, chunk: Sequence[KeyClaim], reasons: list[dict[str, Any]], held: dict[str, HeldElsewhere]
    ) -> list[KeyClaim]:
        if len(reasons) != len(chunk):
            raise RuntimeError("TransactWriteItems was cancelled without a reason per item")
        retry = []
        for claim, reason in zip(chunk, reasons, strict=True):
            code = reason.get("Code")
            if code == "ConditionalCheckFailed":
                holder = from_attributes(reason.get("Item", {}))
                if holder.get("batchId") != batch_id:
                    held[claim.message_key] = HeldElsewhere(str(holder["batchId"]), str(holder["sendId"]))
            elif code in (None, "None") or code in _RETRY_REASONS:
                retry.append(claim)
            else:
                raise RuntimeError(f"message key write refused: {code}: {reason.get('Message', '')}")
        return retry
