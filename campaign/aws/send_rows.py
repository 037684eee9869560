"""Send rows in DynamoDB: created in bulk after their messages are queued, then changed only by
conditional updates (the claim, the result, an operator's re-drive).

A claim touches attributes no index copies (`claimedAt`, `claims`), so it writes the row alone; a
result writes the row and moves its entry in the listing index (one delete, one put). A delivery
outcome writes the row and puts (or, for a later outcome, moves) its entry in the delivery index.
"""

from collections.abc import Sequence
from typing import NamedTuple

from campaign.aws.bulk import get_all, put_all
from campaign.aws.clients import client
from campaign.aws.conditional import conditional_write
from campaign.aws.items import send_row_from_item, send_row_item, to_attributes
from campaign.aws.table_schema import (
    DELIVERY_KEY,
    LISTING_KEY,
    PARTITION_KEY,
    PENDING_KEY,
    POSITION_KEY,
    delivery_key,
    listing_keys,
    send_pk,
)
from campaign.domain.delivery import DeliveryEvent
from campaign.domain.models import SendRow
from campaign.domain.status import CLAIMABLE_STATUSES, OUTCOME_RANK, RESENDABLE_ERRORS, EmailStatus, ErrorKind


class Claimed(NamedTuple):
    row: SendRow


class NotClaimable(NamedTuple):
    """The row exists but is final, or another delivery holds its claim."""

    row: SendRow


class Missing(NamedTuple):
    """No row yet: the ingest writes a row just after its message, so the worker is early."""


ClaimResult = Claimed | NotClaimable | Missing


class DeliveryWrite(NamedTuple):
    """What recording a delivery event found: the send's recipient (None: no such send) and the row
    as the event left it (None: the event changed nothing)."""

    recipient: str | None
    updated: SendRow | None


# The row exists and the event's outcome is later than the one recorded (none counts as lowest).
_OUTRANKS_RECORDED_OUTCOME = "attribute_exists(pk) AND (attribute_not_exists(deliveryRank) OR deliveryRank < :rank)"


class SendRows:
    """Repository of send rows in one table."""

    def __init__(self, table_name: str) -> None:
        self._table = table_name
        self._ddb = client("dynamodb")

    def create(self, rows: Sequence[SendRow], expires_at: int) -> None:
        """Write new rows with BatchWriteItem, 25 per call (no worker can have touched them yet)."""
        put_all(self._ddb, self._table, [send_row_item(row, expires_at) for row in rows])

    def put_new(self, row: SendRow, expires_at: int) -> bool:
        """Create one row unless it exists (an operator's re-drive run twice creates it once)."""
        return conditional_write(
            self._ddb.put_item,
            TableName=self._table,
            Item=send_row_item(row, expires_at),
            ConditionExpression=f"attribute_not_exists({PARTITION_KEY})",
        )[1]

    def record_delivery(self, event: DeliveryEvent) -> DeliveryWrite:
        """Write a provider's outcome onto its send, whatever the send's status (an event may overtake
        the worker's SENT write), if it outranks the outcome recorded so far. Says whose send it is
        (None: no row has this id, an unknown message) and the row as it is now, if the event changed
        it (not when repeated, or overtaken by a later fact).

        The row's entry in the delivery index is keyed by its batch, outcome and stripe, written in the
        same UpdateItem as the outcome, so an entry is always in its outcome's family and moves only to
        a higher rank's. An update cannot build that key from the row's attributes, so the row's batch
        and position (which never change) are read first, with the rank recorded so far: an event that
        outranks nothing then costs that read and no write."""
        assert event.send_id is not None
        key = {PARTITION_KEY: {"S": send_pk(event.send_id)}}
        rank = OUTCOME_RANK[event.outcome]
        found = self._ddb.get_item(
            TableName=self._table,
            Key=key,
            ProjectionExpression="#b, #s, #r, email",
            ExpressionAttributeNames={"#b": "batchId", "#s": POSITION_KEY, "#r": "deliveryRank"},
            ConsistentRead=True,
        ).get("Item")
        if found is None:
            return DeliveryWrite(recipient=None, updated=None)
        recipient = str(found["email"]["S"])
        if int(found.get("deliveryRank", {"N": "0"})["N"]) >= rank:
            return DeliveryWrite(recipient, updated=None)
        values = {
            ":outcome": event.outcome.value,
            ":at": event.at,
            ":rank": rank,
            ":key": delivery_key(found["batchId"]["S"], int(found[POSITION_KEY]["N"]), event.outcome),
            ":bounceType": event.bounce_type,
            ":bounceSubType": event.bounce_subtype,
        }
        sets = ["delivery = :outcome", "deliveryAt = :at", "deliveryRank = :rank", f"{DELIVERY_KEY} = :key"]
        sets += [f"{name} = :{name}" for name in ("bounceType", "bounceSubType") if values[f":{name}"] is not None]
        updated, _ = conditional_write(
            self._ddb.update_item,
            TableName=self._table,
            Key=key,
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression=_OUTRANKS_RECORDED_OUTCOME,
            ExpressionAttributeValues=to_attributes(values),
            ReturnValues="ALL_NEW",
        )
        # None: a higher outcome was recorded between the read and the write.
        return DeliveryWrite(recipient, send_row_from_item(updated) if updated is not None else None)

    def existing(self, send_ids: Sequence[str]) -> dict[str, SendRow]:
        """Read rows by id (BatchGetItem, 100 per call): an ingest that resumes must not rewrite them."""
        keys = [{PARTITION_KEY: {"S": send_pk(send_id)}} for send_id in send_ids]
        rows = [send_row_from_item(item) for item in get_all(self._ddb, self._table, keys, consistent=True)]
        return {row.send_id: row for row in rows}

    def get(self, send_id: str) -> SendRow | None:
        response = self._ddb.get_item(
            TableName=self._table, Key={PARTITION_KEY: {"S": send_pk(send_id)}}, ConsistentRead=True
        )
        return send_row_from_item(response["Item"]) if "Item" in response else None

    def claim(self, send_id: str, now: str) -> ClaimResult:
        """Take the right to send: only one delivery of a message can hold an unclaimed, unfinished row."""
        claimable = {f":claimable{i}": status.value for i, status in enumerate(sorted(CLAIMABLE_STATUSES))}
        item, claimed = conditional_write(
            self._ddb.update_item,
            TableName=self._table,
            Key={PARTITION_KEY: {"S": send_pk(send_id)}},
            UpdateExpression="SET claimedAt = :now ADD claims :one",
            ConditionExpression=(
                f"attribute_exists(pk) AND #s IN ({', '.join(claimable)}) AND attribute_not_exists(claimedAt)"
            ),
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=to_attributes({":now": now, ":one": 1, **claimable}),
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        if item is None:  # not claimed, and no row found
            return Missing()
        return Claimed(send_row_from_item(item)) if claimed else NotClaimable(send_row_from_item(item))

    def mark_queued(self, row: SendRow, now: str) -> bool:
        """PENDING → QUEUED once a re-drive has put the row's message on the queue. Both are listed in
        the same index partition (OPEN), so the row does not move there; it leaves the pending index.
        A row that a worker claimed or finished meanwhile is left alone (the condition fails)."""
        return self._update(
            row,
            f"SET #status = :queued, updatedAt = :now REMOVE #error, {PENDING_KEY}",
            "#status = :pending AND attribute_not_exists(claimedAt)",
            {":queued": EmailStatus.QUEUED.value, ":now": now, ":pending": EmailStatus.PENDING.value},
        )

    def mark_resent(self, row: SendRow, resend_id: str, now: str) -> bool:
        """Record that an operator's re-drive sends this row again as `resend_id`. Only for an ERROR kind
        that proves SES never accepted the message, and only once; the row itself stays ERROR."""
        kinds = {f":kind{i}": kind.value for i, kind in enumerate(sorted(RESENDABLE_ERRORS))}
        return self._update(
            row,
            "SET resentAs = :resend, updatedAt = :now",
            f"#status = :error AND errorKind IN ({', '.join(kinds)}) AND attribute_not_exists(resentAs)",
            {":resend": resend_id, ":now": now, ":error": EmailStatus.ERROR.value, **kinds},
        )

    def release(self, claimed: SendRow, now: str, error: str) -> bool:
        """Give the claim back after a transient failure, so the redelivered message can try again."""
        return self._update_if_claimed(
            claimed,
            "SET #error = :error, attempts = claims, updatedAt = :now REMOVE claimedAt",
            {":error": error, ":now": now},
        )

    def unclaim(self, claimed: SendRow, now: str) -> bool:
        """Give a claim back untried (the send was deferred for want of a token): not an attempt."""
        return self._update_if_claimed(
            claimed, "SET updatedAt = :now ADD claims :undo REMOVE claimedAt", {":now": now, ":undo": -1}
        )

    def finish(
        self,
        claimed: SendRow,
        now: str,
        status: EmailStatus,
        *,
        error: str | None = None,
        error_kind: ErrorKind | None = None,
        provider: str | None = None,
        provider_message_id: str | None = None,
    ) -> bool:
        """Record the final status of a claimed send; False if the claim was no longer ours."""
        values: dict[str, object] = {
            ":status": status.value,
            ":list": listing_keys(claimed.batch_id, claimed.seq, status)[LISTING_KEY],
            ":now": now,
        }
        assignments = ["#status = :status", f"{LISTING_KEY} = :list", "attempts = claims", "updatedAt = :now"]
        for name, placeholder, value in (
            ("#error", ":error", error),
            ("errorKind", ":kind", error_kind.value if error_kind else None),
            ("provider", ":provider", provider),
            ("providerMessageId", ":message", provider_message_id),
        ):
            if value is not None:
                assignments.append(f"{name} = {placeholder}")
                values[placeholder] = value
        update = f"SET {', '.join(assignments)} REMOVE claimedAt, {PENDING_KEY}"
        return self._update_if_claimed(claimed, update, values)

    def _update_if_claimed(self, claimed: SendRow, update: str, values: dict[str, object]) -> bool:
        """Apply an update, which drops the claim, only while the row still carries this delivery's claim."""
        if claimed.claimed_at is None:
            raise ValueError("the row was not claimed")
        return self._update(claimed, update, "claimedAt = :claimed", values | {":claimed": claimed.claimed_at})

    def _update(self, row: SendRow, update: str, condition: str, values: dict[str, object]) -> bool:
        """One conditional UpdateItem; False if the condition does not hold. `status` and `error` are
        reserved words in DynamoDB, hence the placeholders."""
        expressions = update + condition
        names = {name: value for name, value in (("#status", "status"), ("#error", "error")) if name in expressions}
        return conditional_write(
            self._ddb.update_item,
            TableName=self._table,
            Key={PARTITION_KEY: {"S": send_pk(row.send_id)}},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeValues=to_attributes(values),
            **({"ExpressionAttributeNames": names} if names else {}),
        )[1]
