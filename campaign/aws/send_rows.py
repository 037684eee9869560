"""Send rows in DynamoDB: bulk creation at ingest, the worker's claim and result, index queries.

Every change after creation is a conditional UpdateItem, so statuses only move forward and a final
status is never overwritten, whatever order retries arrive in.
"""

from collections.abc import Sequence
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from campaign.aws.clients import client
from campaign.aws.items import Item, send_row_from_item, send_row_item, status_keys, to_attributes
from campaign.aws.retry import attempts, backoff, is_throttling
from campaign.aws.table_schema import PARTITION_KEY, send_pk
from campaign.domain.models import SendRow
from campaign.domain.status import CLAIMABLE_STATUSES, REOPENABLE_ERRORS, EmailStatus, ErrorKind
from campaign.limits import DYNAMODB_BATCH_GET_MAX, DYNAMODB_BATCH_WRITE_MAX


class IncompleteWriteError(RuntimeError):
    """DynamoDB kept returning unprocessed items after every retry."""


class Claimed(NamedTuple):
    row: SendRow


class NotClaimable(NamedTuple):
    """The row exists but is final, or another delivery holds its claim."""

    row: SendRow


class Missing(NamedTuple):
    """No row yet: the ingest writes a row just after its message, so the worker is early."""


ClaimResult = Claimed | NotClaimable | Missing


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _is_conditional_failure(exc: ClientError) -> bool:
    return bool(exc.response["Error"]["Code"] == "ConditionalCheckFailedException")


class SendRows:
    """Repository of send rows in one table."""

    def __init__(self, table_name: str) -> None:
        self._table = table_name
        self._ddb = client("dynamodb")

    def create(self, rows: Sequence[SendRow]) -> None:
        """Write new rows with BatchWriteItem, 25 per call, retrying UnprocessedItems with backoff."""
        for chunk in _chunks(rows, DYNAMODB_BATCH_WRITE_MAX):
            pending: list[Item] = [{"PutRequest": {"Item": send_row_item(row)}} for row in chunk]
            for attempt in attempts():
                try:
                    response = self._ddb.batch_write_item(RequestItems={self._table: pending})
                except ClientError as exc:
                    if not is_throttling(exc):
                        raise
                    backoff(attempt)  # throttled past botocore's own retries: nothing was written
                    continue
                pending = response.get("UnprocessedItems", {}).get(self._table, [])
                if not pending:
                    break
                backoff(attempt)
            if pending:
                raise IncompleteWriteError(f"{len(pending)} rows stayed unprocessed after retries")

    def existing(self, send_ids: Sequence[str]) -> dict[str, SendRow]:
        """Read rows by id (BatchGetItem, 100 per call): an ingest that resumes must not rewrite them."""
        found: dict[str, SendRow] = {}
        for chunk in _chunks(send_ids, DYNAMODB_BATCH_GET_MAX):
            keys: list[Item] = [{PARTITION_KEY: {"S": send_pk(send_id)}} for send_id in chunk]
            for attempt in attempts():
                response = self._ddb.batch_get_item(RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}})
                for item in response["Responses"].get(self._table, []):
                    row = send_row_from_item(item)
                    found[row.send_id] = row
                keys = response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
                if not keys:
                    break
                backoff(attempt)
            if keys:
                raise IncompleteWriteError(f"{len(keys)} rows stayed unread after retries")
        return found

    def get(self, send_id: str) -> SendRow | None:
        response = self._ddb.get_item(
            TableName=self._table, Key={PARTITION_KEY: {"S": send_pk(send_id)}}, ConsistentRead=True
        )
        return send_row_from_item(response["Item"]) if "Item" in response else None

    def claim(self, send_id: str, now: str) -> ClaimResult:
        """Take the right to send: only one delivery of a message can hold an unclaimed, unfinished row."""
        claimable = {f":claimable{i}": status.value for i, status in enumerate(sorted(CLAIMABLE_STATUSES))}
        try:
            response = self._ddb.update_item(
                TableName=self._table,
                Key={PARTITION_KEY: {"S": send_pk(send_id)}},
                UpdateExpression="SET claimedAt = :now, updatedAt = :now ADD attempts :one",
                ConditionExpression=(
                    f"attribute_exists(pk) AND #s IN ({', '.join(claimable)}) AND attribute_not_exists(claimedAt)"
                ),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=to_attributes({":now": now, ":one": 1, **claimable}),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise
            old = exc.response.get("Item")
            return NotClaimable(send_row_from_item(old)) if old else Missing()
        return Claimed(send_row_from_item(response["Attributes"]))

    def mark_queued(self, row: SendRow, now: str) -> bool:
        """PENDING → QUEUED once a re-drive has put the row's message on the queue. A row that a
        worker claimed or finished meanwhile is left alone (the condition fails)."""
        return self._conditional_update(
            row,
            now,
            set_values=status_keys(row, EmailStatus.QUEUED),
            remove=("error",),
            condition="#status = :pending AND attribute_not_exists(claimedAt)",
            condition_values={":pending": EmailStatus.PENDING.value},
        )

    def reopen(self, row: SendRow, now: str) -> bool:
        """ERROR → QUEUED, for an operator's DLQ re-drive only, and only for an error kind that proves
        SES never accepted the message (so sending again cannot duplicate an email)."""
        kinds = {f":kind{i}": kind.value for i, kind in enumerate(sorted(REOPENABLE_ERRORS))}
        return self._conditional_update(
            row,
            now,
            set_values=status_keys(row, EmailStatus.QUEUED),
            remove=("errorKind", "claimedAt"),
            condition=f"#status = :error AND errorKind IN ({', '.join(kinds)})",
            condition_values={":error": EmailStatus.ERROR.value, **kinds},
        )

    def release(self, claimed: SendRow, now: str, error: str) -> bool:
        """Give the claim back after a transient failure, so the redelivered message can try again."""
        return self._update_if_claimed(claimed, now, set_values={"error": error})

    def finish(
        self,
        claimed: SendRow,
        now: str,
        status: EmailStatus,
        *,
        error: str | None = None,
        error_kind: ErrorKind | None = None,
        provider_message_id: str | None = None,
    ) -> bool:
        """Record the final status of a claimed send; False if the claim was no longer ours."""
        extra = {"error": error, "errorKind": error_kind.value if error_kind else None}
        extra["providerMessageId"] = provider_message_id
        set_values = status_keys(claimed, status) | {k: v for k, v in extra.items() if v is not None}
        return self._update_if_claimed(claimed, now, set_values=set_values)

    def _update_if_claimed(self, claimed: SendRow, now: str, *, set_values: dict[str, str]) -> bool:
        """Apply an update, and drop the claim, only while the row still carries this delivery's claim."""
        if claimed.claimed_at is None:
            raise ValueError("the row was not claimed")
        return self._conditional_update(
            claimed,
            now,
            set_values=set_values,
            remove=("claimedAt",),
            condition="claimedAt = :claimed",
            condition_values={":claimed": claimed.claimed_at},
        )

    def _conditional_update(
        self,
        row: SendRow,
        now: str,
        *,
        set_values: dict[str, str],
        remove: tuple[str, ...],
        condition: str,
        condition_values: dict[str, str],
    ) -> bool:
        """SET the given attributes (and updatedAt), REMOVE others, if `condition` holds; False if not.
        Attribute names go through placeholders, so reserved words (status, error) need no care."""
        names = {f"#{name}": name for name in (*set_values, *remove, "updatedAt")}
        if "#status" in condition:
            names["#status"] = "status"
        assignments = ", ".join(f"#{name} = :{name}" for name in (*set_values, "updatedAt"))
        removals = f" REMOVE {', '.join(f'#{name}' for name in remove)}" if remove else ""
        values = {f":{name}": value for name, value in set_values.items()} | {":updatedAt": now}
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={PARTITION_KEY: {"S": send_pk(row.send_id)}},
                UpdateExpression=f"SET {assignments}{removals}",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_attributes(values | condition_values),
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True
