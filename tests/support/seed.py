"""Send rows put straight into the emulated table, as an ingest leaves them, for listing tests that
need batches at chosen times and rows in chosen statuses."""

from collections.abc import Sequence

from campaign.aws.batch_counts import BatchCounts
from campaign.aws.send_rows import SendRows
from campaign.domain.histogram import bucket_of
from campaign.domain.ids import batch_id_for, send_id_for
from campaign.domain.models import SendRow
from campaign.domain.retention import Retention
from campaign.domain.status import EmailStatus
from campaign.limits import DEFAULT_DEDUPE_WINDOW_DAYS, DEFAULT_RETENTION_DAYS

RETENTION = Retention(DEFAULT_DEDUPE_WINDOW_DAYS, DEFAULT_RETENTION_DAYS)


def seed_batch(table_name: str, name: str, created_at: str, statuses: Sequence[EmailStatus]) -> list[SendRow]:
    """A batch named `name` (its id is derived from it) whose rows, in file order, have `statuses`.
    Run the stream consumer afterwards for the batch's counts."""
    batch_id = batch_id_for(name.encode())
    rows = [
        SendRow(
            send_id=send_id_for(batch_id, f"u{seq}.{name}@example.com"),
            batch_id=batch_id,
            seq=seq,
            email=f"u{seq}.{name}@example.com",
            subject=f"{name} {seq}",
            status=status,
            created_at=created_at,
            updated_at=created_at,
            content=f"Hello {seq}",
            content_json_bytes=len(f'"Hello {seq}"'),
            bucket=bucket_of(seq, len(statuses)),
        )
        for seq, status in enumerate(statuses)
    ]
    BatchCounts(table_name, RETENTION).start(batch_id, created_at, positions=len(rows))
    SendRows(table_name).create(rows, RETENTION.expiry_of(created_at))
    return rows


def in_listing_order(rows: Sequence[SendRow]) -> list[str]:
    """Batches newest first (then by id, newest first too), each batch's rows in file order."""
    ordered = sorted(rows, key=lambda r: r.seq)
    ordered.sort(key=lambda r: (r.created_at, r.batch_id), reverse=True)
    return [row.send_id for row in ordered]
