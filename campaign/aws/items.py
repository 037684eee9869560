"""Conversion between domain records and DynamoDB's attribute-value form."""

import zlib
from collections.abc import Sequence
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

from campaign.aws.table_schema import (
    ALL_BATCHES,
    ALL_SUPPRESSIONS,
    BATCH_INDEX_KEY,
    BATCH_ORDER_KEY,
    DELIVERY_KEY,
    FILE_POSITIONS,
    HISTOGRAM,
    HISTOGRAM_BUCKET,
    PARTITION_KEY,
    SUPPRESSION_INDEX_KEY,
    SUPPRESSION_ORDER_KEY,
    TTL_ATTRIBUTE,
    batch_order,
    batch_pk,
    counts_pk,
    delivery_key,
    listing_keys,
    send_pk,
    suppression_order,
    suppression_pk,
)
from campaign.domain.models import (
    AcceptedElsewhereReport,
    BatchListing,
    BatchRecord,
    BatchState,
    OutcomeCounts,
    SendRow,
    SkippedRowReport,
    StatusCounts,
    Suppression,
    SuppressionReason,
)
from campaign.domain.status import DeliveryOutcome, EmailStatus
from campaign.limits import HISTOGRAM_BUCKETS

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

Item = dict[str, Any]


def to_attributes(values: dict[str, Any]) -> Item:
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def from_attributes(item: Item) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def send_row_item(row: SendRow, expires_at: int) -> Item:
    return to_attributes(
        {
            PARTITION_KEY: send_pk(row.send_id),
            **listing_keys(row.batch_id, row.seq, row.status),
            "sendId": row.send_id,
            "batchId": row.batch_id,
            "seq": row.seq,
            "email": row.email,
            "subject": row.subject,
            "status": row.status.value,
            "content": row.content,
            "bodyKey": row.body_key,
            "contentJsonBytes": row.content_json_bytes,
            "createdAt": row.created_at,
            "updatedAt": row.updated_at,
            "attempts": row.attempts,
            "claims": row.claims or None,
            "error": row.error,
            "provider": row.provider,
            "providerMessageId": row.provider_message_id,
            "claimedAt": row.claimed_at,
            "errorKind": row.error_kind,
            "resentAs": row.resent_as,
            "resendOf": row.resend_of,
            HISTOGRAM_BUCKET: row.bucket,
            "delivery": row.delivery.value if row.delivery else None,
            DELIVERY_KEY: delivery_key(row.batch_id, row.seq, row.delivery) if row.delivery else None,
            "deliveryAt": row.delivery_at,
            "bounceType": row.bounce_type,
            "bounceSubType": row.bounce_subtype,
            TTL_ATTRIBUTE: expires_at,
        }
    )


def send_row_from_item(item: Item) -> SendRow:
    data = from_attributes(item)
    return SendRow(
        send_id=data["sendId"],
        batch_id=data["batchId"],
        seq=int(data["seq"]),
        email=data["email"],
        subject=data["subject"],
        status=EmailStatus(data["status"]),
        created_at=data["createdAt"],
        updated_at=data["updatedAt"],
        content=data.get("content"),
        body_key=data.get("bodyKey"),
        content_json_bytes=int(data.get("contentJsonBytes", 0)),
        attempts=int(data.get("attempts", 0)),
        error=data.get("error"),
        provider=data.get("provider"),
        provider_message_id=data.get("providerMessageId"),
        claimed_at=data.get("claimedAt"),
        claims=int(data.get("claims", 0)),
        error_kind=data.get("errorKind"),
        resent_as=data.get("resentAs"),
        resend_of=data.get("resendOf"),
        bucket=int(data.get(HISTOGRAM_BUCKET, 0)),
        delivery=DeliveryOutcome(data["delivery"]) if "delivery" in data else None,
        delivery_at=data.get("deliveryAt"),
        bounce_type=data.get("bounceType"),
        bounce_subtype=data.get("bounceSubType"),
    )


# A body is stored compressed when that saves at least this share of its size (text and HTML
# usually compress to under half; a body that does not is stored as it is).
_COMPRESSION_WORTH = 0.9


def body_attributes(content: str) -> dict[str, object]:
    """A body as stored, in a body item or in the message key of the one row that carries it."""
    raw = content.encode()
    packed = zlib.compress(raw, 6)
    return {"contentZ": packed} if len(packed) < _COMPRESSION_WORTH * len(raw) else {"content": content}


def body_item(item_key: str, content: str, expires_at: int) -> Item:
    return to_attributes({PARTITION_KEY: item_key, **body_attributes(content), TTL_ATTRIBUTE: expires_at})


def body_from_item(item: Item) -> str:
    data = from_attributes(item)
    if "contentZ" in data:
        packed = data["contentZ"]
        return zlib.decompress(packed.value if isinstance(packed, Binary) else packed).decode()
    return str(data["content"])


def batch_item(batch: BatchRecord, expires_at: int) -> Item:
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
            "alreadyAccepted": batch.already_accepted,
            "alreadyAcceptedRows": accepted_elsewhere_attribute(batch.already_accepted_rows),
            "leaseUntil": batch.lease_until,
            "rowsRead": batch.rows_read,
            "errorCode": batch.error_code,
            "errorMessage": batch.error_message,
            "declaredSize": batch.declared_size,
            TTL_ATTRIBUTE: expires_at,
        }
    )


def skipped_rows_attribute(rows: Sequence[SkippedRowReport]) -> list[dict[str, object]]:
    return [{"row": s.row, "email": s.email, "reason": s.reason} for s in rows]


def accepted_elsewhere_attribute(rows: Sequence[AcceptedElsewhereReport]) -> list[dict[str, object]]:
    return [{"row": a.row, "email": a.email, "batchId": a.batch_id} for a in rows]


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
        already_accepted=int(data.get("alreadyAccepted", 0)),
        already_accepted_rows=tuple(
            AcceptedElsewhereReport(row=int(a["row"]), email=a["email"], batch_id=a["batchId"])
            for a in data.get("alreadyAcceptedRows", [])
        ),
        declared_size=int(data["declaredSize"]) if "declaredSize" in data else None,
    )


def batch_index_keys(created_at: str, batch_id: str) -> dict[str, str]:
    return {BATCH_INDEX_KEY: ALL_BATCHES, BATCH_ORDER_KEY: batch_order(created_at, batch_id)}


def counts_key(batch_id: str) -> Item:
    return {PARTITION_KEY: {"S": counts_pk(batch_id)}}


def batch_listing_from_item(item: Item) -> BatchListing:
    data = from_attributes(item)
    return BatchListing(
        batch_id=data["batchId"],
        created_at=data["createdAt"],
        positions=int(data.get("positions", 0)),
        counts=StatusCounts(
            pending=int(data.get("pending", 0)),
            queued=int(data.get("queued", 0)),
            sent=int(data.get("sent", 0)),
            error=int(data.get("error", 0)),
        ),
        resent=int(data.get("resent", 0)),
        histogram=histogram_from_attribute(data.get(HISTOGRAM, {})),
        file_positions=int(data.get(FILE_POSITIONS, 0)),
        outcomes=OutcomeCounts(*(int(data.get(name, 0)) for name in OutcomeCounts._fields)),
    )


# A batch's per-stretch counts are one map attribute: "<status initial><stretch>" -> rows, e.g. "q3".
_INITIAL = {status: status.value[0].lower() for status in EmailStatus}


def histogram_key(status: EmailStatus, bucket: int) -> str:
    return f"{_INITIAL[status]}{bucket}"


def histogram_from_attribute(counted: dict[str, Any]) -> tuple[StatusCounts, ...]:
    if not counted:
        return ()
    return tuple(
        StatusCounts(*(int(counted.get(histogram_key(status, bucket), 0)) for status in EmailStatus))
        for bucket in range(HISTOGRAM_BUCKETS)
    )


def _value_size(value: dict[str, Any]) -> int:
    """DynamoDB's size of one attribute value, by its documented rules (CapacityUnitCalculations)."""
    kind, data = next(iter(value.items()))
    if kind == "S":
        return len(str(data).encode())
    if kind == "B":
        return len(data) if isinstance(data, bytes | bytearray) else len(Binary(data).value)
    if kind == "N":
        digits = str(data).lstrip("-").replace(".", "").strip("0") or "0"
        return 1 + (len(digits) + 1) // 2
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: member}) for member in data)
    if kind == "L":
        return 3 + sum(1 + _value_size(member) for member in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _value_size(member) for name, member in data.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Item) -> int:
    """Bytes DynamoDB counts for an item: every attribute's name and value (not the 100 bytes of
    storage overhead per item, which is billed as storage but not as throughput)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def counts_item(listing: BatchListing, expires_at: int) -> Item:
    """A batch's listing summary as the ingest and the stream consumer leave it (the local tooling
    and the benchmark put it whole; the code writes it with updates)."""
    return to_attributes(
        {
            PARTITION_KEY: counts_pk(listing.batch_id),
            **batch_index_keys(listing.created_at, listing.batch_id),
            "batchId": listing.batch_id,
            "createdAt": listing.created_at,
            "positions": listing.positions,
            FILE_POSITIONS: listing.file_positions,
            **{status: getattr(listing.counts, status) for status in StatusCounts._fields},
            "resent": listing.resent or None,
            **{outcome: getattr(listing.outcomes, outcome) or None for outcome in OutcomeCounts._fields},
            HISTOGRAM: {
                histogram_key(status, bucket): counts.of(status)
                for bucket, counts in enumerate(listing.histogram)
                for status in EmailStatus
                if counts.of(status)
            },
            TTL_ATTRIBUTE: expires_at,
        }
    )


def suppression_item(suppression: Suppression) -> Item:
    """A suppression, in the suppression index's one partition; no `expiresAt`: it lasts until removed."""
    return to_attributes(
        {
            PARTITION_KEY: suppression_pk(suppression.email),
            SUPPRESSION_INDEX_KEY: ALL_SUPPRESSIONS,
            SUPPRESSION_ORDER_KEY: suppression_order(suppression.at, suppression.email),
            "email": suppression.email,
            "reason": suppression.reason.value,
            "source": suppression.source,
            "suppressedAt": suppression.at,
        }
    )


def suppression_from_item(item: Item) -> Suppression:
    data = from_attributes(item)
    return Suppression(
        email=data["email"],
        reason=SuppressionReason(data["reason"]),
        source=data["source"],
        at=data["suppressedAt"],
    )
