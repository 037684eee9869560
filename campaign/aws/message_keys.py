"""Message keys: the first upload to accept a message holds its key for the deduplication window.

A key is taken with a conditional update inside TransactWriteItems, up to 100 keys (and 4 MB) a
request: each succeeds only if no other upload holds the key within its window, so two uploads that
share rows, racing, agree on one holder per row. A transaction is all or nothing; when some of its
keys are held already, DynamoDB cancels it and says which (with the holder's item), and the rest are
taken again without them.

A key may carry its row's body (see KeyClaim): writing it in the same transaction write saves the
ingest one BatchWriteItem per 25 such rows, for the same write units up to 2 KB. The body is set only
where the key has none, so a later upload that takes the key after the window (and may carry no
body) never removes the body an earlier batch's rows read; the key's TTL only ever moves later.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from campaign.aws.bulk import IncompleteWriteError, chunks
from campaign.aws.clients import client
from campaign.aws.items import body_attributes, from_attributes, to_attributes
from campaign.aws.retry import attempts, backoff, is_throttling
from campaign.aws.table_schema import ACCEPTED_UNTIL, PARTITION_KEY, TTL_ATTRIBUTE, message_pk
from campaign.domain.retention import Retention
from campaign.limits import DYNAMODB_TRANSACT_MAX, DYNAMODB_TRANSACT_MAX_BYTES

# Reasons a put is cancelled without being wrong: another transaction touched the item at the same
# moment, or DynamoDB is busy. Such puts are tried again.
_RETRY_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


class KeyClaim(NamedTuple):
    message_key: str
    send_id: str
    # The row's body, when the key is where it is stored.
    body: str | None = None


class HeldElsewhere(NamedTuple):
    """The upload (batch) that accepted the message first, and its send."""

    batch_id: str
    send_id: str


class MessageKeys:
    def __init__(self, table_name: str, retention: Retention) -> None:
        self._table = table_name
        self._retention = retention
        self._ddb = client("dynamodb")

    def claim(
        self, batch_id: str, claims: Sequence[KeyClaim], now: datetime, expires_at: int
    ) -> dict[str, HeldElsewhere]:
        """Take every key that no other upload holds; returns those that one does (by message key).
        Keys this batch holds already (a resumed ingest) are taken again, adding a body they lack.
        `expires_at` is the TTL of the batch's rows: a key that holds a body must outlive them."""
        held: dict[str, HeldElsewhere] = {}
        pending = [_Write(self._update_request(batch_id, c, now, expires_at), c) for c in claims]
        setbacks = 0
        while pending:
            retry: list[_Write] = []
            for transaction in _transactions(pending):
                retry.extend(self._write(batch_id, transaction, held))
            if retry and len(retry) == len(pending):  # nothing settled: back off before trying again
                if setbacks >= len(attempts()):
                    raise IncompleteWriteError(f"{len(retry)} message keys could not be written after retries")
                backoff(setbacks)
                setbacks += 1
            pending = retry
        return held

    def _write(self, batch_id: str, transaction: Sequence["_Write"], held: dict[str, HeldElsewhere]) -> list["_Write"]:
        """One transaction; records the keys held elsewhere and returns the writes to send again."""
        try:
            self._ddb.transact_write_items(TransactItems=[w.request for w in transaction])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code != "TransactionCanceledException":
                if is_throttling(exc):
                    return list(transaction)
                raise
            return _settle(batch_id, transaction, exc.response.get("CancellationReasons", []), held)
        return []

    def _update_request(self, batch_id: str, claim: KeyClaim, now: datetime, expires_at: int) -> dict[str, Any]:
        values: dict[str, Any] = {
            ":batch": batch_id,
            ":send": claim.send_id,
            ":until": self._retention.accepted_until(now),
            ":expires": expires_at,
            ":now": int(now.timestamp()),
        }
        assignments = ["batchId = :batch", "sendId = :send", "#until = :until", "#expires = :expires"]
        for name, value in (body_attributes(claim.body) if claim.body is not None else {}).items():
            assignments.append(f"{name} = if_not_exists({name}, :{name})")
            values[f":{name}"] = value
        return {
            "Update": {
                "TableName": self._table,
                "Key": {PARTITION_KEY: {"S": message_pk(claim.message_key)}},
                "UpdateExpression": "SET " + ", ".join(assignments),
                # A key past its window is as good as absent; one this batch holds is its own (a resume).
                "ConditionExpression": "attribute_not_exists(pk) OR #until < :now OR batchId = :batch",
                "ExpressionAttributeNames": {"#until": ACCEPTED_UNTIL, "#expires": TTL_ATTRIBUTE},
                "ExpressionAttributeValues": to_attributes(values),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }


class _Write(NamedTuple):
    request: dict[str, Any]
    claim: KeyClaim

    @property
    def size(self) -> int:
        """An upper bound of what the write adds to its transaction's 4 MB."""
        values = self.request["Update"]["ExpressionAttributeValues"]
        return _REQUEST_OVERHEAD_BYTES + sum(len(next(iter(value.values()))) for value in values.values())


_REQUEST_OVERHEAD_BYTES = 256


def _transactions(writes: Sequence[_Write]) -> list[Sequence[_Write]]:
    """Up to 100 writes a transaction, and within its 4 MB (the bodies make writes large)."""
    transactions: list[Sequence[_Write]] = []
    for chunk in chunks(writes, DYNAMODB_TRANSACT_MAX):
        start, size = 0, 0
        for i, write in enumerate(chunk):
            if i > start and size + write.size > DYNAMODB_TRANSACT_MAX_BYTES:
                transactions.append(chunk[start:i])
                start, size = i, 0
            size += write.size
        transactions.append(chunk[start:])
    return transactions


def _settle(
    batch_id: str, transaction: Sequence[_Write], reasons: list[dict[str, Any]], held: dict[str, HeldElsewhere]
) -> list[_Write]:
    if len(reasons) != len(transaction):
        raise RuntimeError("TransactWriteItems was cancelled without a reason per item")
    retry = []
    for write, reason in zip(transaction, reasons, strict=True):
        code = reason.get("Code")
        if code == "ConditionalCheckFailed":
            holder = from_attributes(reason.get("Item", {}))
            if holder.get("batchId") != batch_id:
                held[write.claim.message_key] = HeldElsewhere(str(holder["batchId"]), str(holder["sendId"]))
        elif code in (None, "None") or code in _RETRY_REASONS:
            retry.append(write)
        else:
            raise RuntimeError(f"message key write refused: {code}: {reason.get('Message', '')}")
    return retry
