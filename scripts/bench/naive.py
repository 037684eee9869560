"""The naive baseline of the benchmark: the obvious design, one AWS request per thing.

It shares the project's CSV rules, ids and item layout (so its rows are listed by the same indexes and
the comparison is about AWS usage only) and none of its AWS code:

* ingest: per accepted row, one PutItem (the row, QUEUED) then one SendMessage carrying the whole row;
  rows one after another. No batch claim (a re-upload sends everything again), no ordering guarantee
  (a failed send leaves a QUEUED row that nothing will send), no resume after a crash.
* worker: per message, SES SendEmail then one PutItem of the row as SENT. No claim, so a message that
  SQS delivers twice (at-least-once, an expired visibility timeout, a retried batch) is sent twice,
  and the unconditional PutItem can overwrite a newer status; an exception fails the whole batch.
* listing: Scan the table with a FilterExpression, sort the matches (newest batch first, each batch
  in file order) in memory, return a page. DynamoDB reads the whole table for every page.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from campaign.aws.clients import client
from campaign.aws.items import send_row_from_item, send_row_item
from campaign.aws.table_schema import SEND_PREFIX
from campaign.domain.clock import now_iso
from campaign.domain.csv_rules import parse_campaign_csv
from campaign.domain.ids import batch_id_for, send_id_for
from campaign.domain.models import SendRow
from campaign.domain.retention import Retention
from campaign.domain.status import EmailStatus
from campaign.limits import DEFAULT_DEDUPE_WINDOW_DAYS, DEFAULT_RETENTION_DAYS

# Rows expire as ours do (the baseline is about requests, not retention).
_RETENTION = Retention(DEFAULT_DEDUPE_WINDOW_DAYS, DEFAULT_RETENTION_DAYS)


class NaiveIngest:
    def __init__(self, table_name: str, queue_url: str) -> None:
        self._table = table_name
        self._queue = queue_url

    def ingest(self, content: bytes) -> int:
        """Returns the number of accepted rows."""
        parsed = parse_campaign_csv(content)
        batch_id, now = batch_id_for(content), now_iso()
        ddb, sqs = client("dynamodb"), client("sqs")
        for accepted in parsed.rows:
            row = SendRow(
                send_id=send_id_for(batch_id, accepted.email_key),
                batch_id=batch_id,
                seq=accepted.seq,
                email=accepted.email,
                subject=accepted.subject,
                content=accepted.content,
                status=EmailStatus.QUEUED,
                created_at=now,
                updated_at=now,
            )
            ddb.put_item(TableName=self._table, Item=send_row_item(row, _RETENTION.expiry_of(now)))
            body = {
                "sendId": row.send_id,
                "batchId": row.batch_id,
                "email": row.email,
                "subject": row.subject,
                "content": row.content,
                "createdAt": row.created_at,
                "seq": row.seq,
            }
            sqs.send_message(QueueUrl=self._queue, MessageBody=json.dumps(body))
        return len(parsed.rows)


class NaiveWorker:
    def __init__(self, table_name: str, sender_address: str) -> None:
        self._table = table_name
        self._from = sender_address

    def handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        del context
        ddb, ses = client("dynamodb"), client("sesv2")
        for record in event["Records"]:
            job = json.loads(record["body"])
            reply = ses.send_email(
                FromEmailAddress=self._from,
                Destination={"ToAddresses": [job["email"]]},
                Content={"Simple": {"Subject": {"Data": job["subject"]}, "Body": {"Text": {"Data": job["content"]}}}},
            )
            row = SendRow(
                send_id=job["sendId"],
                batch_id=job["batchId"],
                seq=job["seq"],
                email=job["email"],
                subject=job["subject"],
                content=job["content"],
                status=EmailStatus.SENT,
                created_at=job["createdAt"],
                updated_at=now_iso(),
                attempts=1,
                provider_message_id=reply["MessageId"],
            )
            ddb.put_item(TableName=self._table, Item=send_row_item(row, _RETENTION.expiry_of(row.created_at)))
        return {"batchItemFailures": []}


@dataclass(frozen=True, slots=True)
class NaiveFilter:
    statuses: Sequence[EmailStatus] | None = None
    created_from: str | None = None  # ISO-8601 as stored, inclusive
    created_to: str | None = None
    batch_id: str | None = None


def _position(row: SendRow) -> tuple[str, str, int]:
    return row.created_at, row.batch_id, row.seq


def _in_listing_order(rows: list[SendRow]) -> list[SendRow]:
    """Newest batch first (then by batch id, also descending), each batch's rows by position."""
    ordered = sorted(rows, key=lambda row: row.seq)
    ordered.sort(key=lambda row: (row.created_at, row.batch_id), reverse=True)
    return ordered


def naive_list(
    table_name: str, where: NaiveFilter, *, first: int, after: tuple[str, str, int] | None
) -> tuple[list[SendRow], tuple[str, str, int] | None]:
    """One page, and the position of its last row if there is more."""
    conditions = ["begins_with(pk, :send)"]
    values: dict[str, dict[str, str]] = {":send": {"S": SEND_PREFIX}}
    names: dict[str, str] = {}
    if where.statuses:
        names["#status"] = "status"
        keys = [f":s{i}" for i in range(len(where.statuses))]
        conditions.append(f"#status IN ({', '.join(keys)})")
        values |= {key: {"S": status.value} for key, status in zip(keys, where.statuses, strict=True)}
    if where.batch_id is not None:
        names["#batch"] = "batchId"
        conditions.append("#batch = :batch")
        values[":batch"] = {"S": where.batch_id}
    if where.created_from is not None:
        names["#created"] = "createdAt"
        conditions.append("#created >= :from")
        values[":from"] = {"S": where.created_from}
    if where.created_to is not None:
        names["#created"] = "createdAt"
        conditions.append("#created <= :to")
        values[":to"] = {"S": where.created_to}
    request: dict[str, Any] = {
        "TableName": table_name,
        "FilterExpression": " AND ".join(conditions),
        "ExpressionAttributeValues": values,
    }
    if names:
        request["ExpressionAttributeNames"] = names
    pages = client("dynamodb").get_paginator("scan").paginate(**request)
    matches = [send_row_from_item(item) for reply in pages for item in reply.get("Items", [])]
    ordered = _in_listing_order(matches)
    if after is not None:
        ordered = ordered[[_position(row) for row in ordered].index(after) + 1 :]
    page = ordered[:first]
    more = len(ordered) > first
    return page, _position(page[-1]) if more else None
