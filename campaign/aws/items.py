"""Conversion between domain records and DynamoDB's attribute-value form."""

from collections.abc import Sequence
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from campaign.aws.table_schema import (
    BATCH_STATUS_INDEX_PK,
    CREATED_SORT_KEY,
    PARTITION_KEY,
    STATUS_INDEX_PK,
    batch_pk,
    batch_status_key,
    created_key,
    send_pk,
    status_key,
)
from campaign.domain.models import BatchRecord, BatchState, SendRow, SkippedRowReport
from campaign.domain.status import EmailStatus

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

Item = dict[str, Any]


def to_attributes(values: dict[str, Any]) -> Item:
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def from_attributes(item: Item) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def status_keys(row: SendRow, status: EmailStatus) -> dict[str, str]:
    """The index keys that move with the status: written together with every status change."""
    return {
        "status": status.value,
        STATUS_INDEX_PK: status_key(status.value, row.send_id),
        BATCH_STATUS_INDEX_PK: batch_status_key(row.batch_id, status.value, row.send_id),
    }


def send_row_item(row: SendRow) -> Item:
    return to_attributes(
        {
            PARTITION_KEY: send_pk(row.send_id),
            CREATED_SORT_KEY: created_key(row.created_at, row.send_id),
            **status_keys(row, row.status),
            "sendId": row.send_id,
            "batchId": row.batch_id,
            "email": row.email,
            "subject": row.subject,
            "content": row.content,
            "createdAt": row.created_at,
            "updatedAt": row.updated_at,
            "attempts": row.attempts,
            "error": row.error,
            "providerMessageId": row.provider_message_id,
            "claimedAt": row.claimed_at,
            "errorKind": row.error_kind,
        }
    )


def send_row_from_item(item: Item) -> SendRow:
    data = from_attributes(item)
    return SendRow(
        send_id=data["sendId"],
        batch_id=data["batchId"],
        email=data["email"],
        subject=data["subject"],
        content=data["content"],
        status=EmailStatus(data["status"]),
        created_at=data["createdAt"],
        updated_at=data["updatedAt"],
        attempts=int(data.get("attempts", 0)),
        error=data.get("error"),
        provider_message_id=data.get("providerMessageId"),
        claimed_at=data.get("claimedAt"),
        error_kind=data.get("errorKind"),
    )


def batch_item(batch: BatchRecord) -> Item:
    return to_attributes(
        {
            PARTITION_KEY: batch_pk(batch.batch_id),
            "batchId": batch.batch_id,
            "createdAt": batch.created_at,
            "state": batch.state.value,
            "total": batch.total,
            "skipped": batch.skipped,
            "enqueued": batch.enqueued,
            "notEnqueued": batch.not_enqueued,
            "skippedRows": skipped_rows_attribute(batch.skipped_rows),
            "leaseUntil": batch.lease_until,
            "rowsRead": batch.rows_read,
            "errorCode": batch.error_code,
            "errorMessage": batch.error_message,
        }
    )


def skipped_rows_attribute(rows: Sequence[SkippedRowReport]) -> list[dict[str, object]]:
    return [{"row": s.row, "email": s.email, "reason": s.reason} for s in rows]


def batch_from_item(item: Item) -> BatchRecord:
    data = from_attributes(item)
    return BatchRecord(
        batch_id=data["batchId"],
        created_at=data["createdAt"],
        state=BatchState(data["state"]),
        total=int(data["total"]),
        skipped=int(data["skipped"]),
        enqueued=int(data.get("enqueued", 0)),
        not_enqueued=int(data.get("notEnqueued", 0)),
        skipped_rows=tuple(
            SkippedRowReport(row=int(s["row"]), email=s["email"], reason=s["reason"])
            for s in data.get("skippedRows", [])
        ),
        lease_until=data.get("leaseUntil"),
        rows_read=int(data.get("rowsRead", 0)),
        error_code=data.get("errorCode"),
        error_message=data.get("errorMessage"),
    )
