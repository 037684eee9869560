"""The stream consumer's use case: keep every batch's status and delivery-outcome counts from its
rows' changes.

DynamoDB Streams delivers each change of a send row (a creation at ingest, a status change by the
worker, a re-drive's mark, an SES event's outcome) in order per row. The consumer adds up what a
whole delivery of records did to each batch, in total and per stretch of its file, and writes each
batch's counts once: one transaction (per 100 batches) whatever the number of rows changed, so a
campaign sending 1,000 emails a second updates its counts item a few times a second, not 1,000. A
delivery Lambda retries is the same records, so the same token: DynamoDB applies it once.
"""

import hashlib
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from campaign.aws.batch_counts import BatchCounts, CountChange
from campaign.aws.items import histogram_key
from campaign.aws.table_schema import HISTOGRAM_BUCKET, PARTITION_KEY, SEND_PREFIX
from campaign.domain.status import DeliveryOutcome, EmailStatus

_FIELD = {status: status.value.lower() for status in EmailStatus}
_OUTCOME_FIELD = {outcome: outcome.value.lower() for outcome in DeliveryOutcome}


def _status(image: Mapping[str, Any] | None) -> EmailStatus | None:
    if not image or "status" not in image:
        return None
    return EmailStatus(image["status"]["S"])


def _outcome(image: Mapping[str, Any] | None) -> DeliveryOutcome | None:
    if not image or "delivery" not in image:
        return None
    return DeliveryOutcome(image["delivery"]["S"])


def _bucket(image: Mapping[str, Any]) -> int:
    return int(image.get(HISTOGRAM_BUCKET, {}).get("N", 0))


def _change(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> CountChange:
    before, after = _status(old), _status(new)
    amounts: dict[str, int] = {}
    stretches: dict[str, int] = {}
    if before != after:
        bucket = _bucket(new)
        if before is not None:
            amounts[_FIELD[before]] = -1
            stretches[histogram_key(before, bucket)] = -1
        if after is not None:
            amounts[_FIELD[after]] = 1
            stretches[histogram_key(after, bucket)] = 1
    # A row counts under its latest delivery outcome (it only moves forward: record_delivery).
    outcome_before, outcome_after = _outcome(old), _outcome(new)
    if outcome_before != outcome_after:
        if outcome_before is not None:
            amounts[_OUTCOME_FIELD[outcome_before]] = -1
        if outcome_after is not None:
            amounts[_OUTCOME_FIELD[outcome_after]] = 1
    if "resentAs" in new and not (old and "resentAs" in old):
        amounts["resent"] = 1
    return CountChange(**amounts, histogram=MappingProxyType(stretches))


def count_changes(records: Iterable[Mapping[str, Any]]) -> dict[str, CountChange]:
    """Each batch's change over a run of stream records. Only send rows count; a row deleted by its
    time to live is not uncounted (its batch expires with it)."""
    changes: dict[str, CountChange] = {}
    for record in records:
        data = record.get("dynamodb", {})
        if not data.get("Keys", {}).get(PARTITION_KEY, {}).get("S", "").startswith(SEND_PREFIX):
            continue
        new = data.get("NewImage")
        if record.get("eventName") == "REMOVE" or not new:
            continue
        batch_id = new["batchId"]["S"]
        changes[batch_id] = changes.get(batch_id, CountChange()).plus(_change(data.get("OldImage"), new))
    return changes


def delivery_token(records: Iterable[Mapping[str, Any]]) -> str:
    """Names a delivery of records: the same records give the same token."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(str(record.get("eventID", "")).encode())
        digest.update(b"|")
    return digest.hexdigest()[:32]


def apply_count_changes(records: list[Mapping[str, Any]], counts: BatchCounts) -> dict[str, CountChange]:
    changes = count_changes(records)
    if changes:
        counts.apply(changes, delivery_token(records))
    return changes
