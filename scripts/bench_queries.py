"""Rows read per row returned by listEmailStatus, ours and the naive Scan + filter, at 100,000 rows.

Run by scripts/bench.py in a process of its own (`python -m scripts.bench_queries`); prints one JSON
object. moto runs in this process (mock_aws). The table is filled straight through moto's backend
with the items the project's own items module writes (`send_row_item`, so the index keys and shards
are the real ones); reads then go through botocore and moto as usual, inside `frozen_reads()` (see
scripts/bench_moto.py), after a self-check that the speed-ups change no reply on a small table.

Ours is `list_sends` (what the GraphQL resolver calls) over the sharded indexes; the naive baseline
scans the whole table with a FilterExpression for every page (scripts/bench_naive.py). Both must
return the same rows, page for page.
"""

import argparse
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from campaign.aws.clients import clear_client_cache, client
from campaign.aws.items import batch_item, send_row_item
from campaign.aws.send_index import SendIndex
from campaign.aws.table_schema import create_table_request
from campaign.domain.clock import to_iso
from campaign.domain.ids import batch_id_for, send_id_for
from campaign.domain.models import BatchRecord, BatchState, SendRow
from campaign.domain.status import EmailStatus
from campaign.services.list_sends import SendFilter, list_sends
from scripts.bench_calls import CallMeter
from scripts.bench_moto import frozen_reads, unchecked_item_sizes
from scripts.bench_naive import NaiveFilter, naive_list

PAGE = 50
REGION = "us-east-1"
_EPOCH = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Dataset:
    """`batches` uploads of `per_batch` rows, twelve hours apart; the newest few are still sending."""

    batches: int
    per_batch: int
    in_progress: int = 3

    def batch_id(self, b: int) -> str:
        return batch_id_for(f"bench batch {b}".encode())

    def created(self, b: int) -> datetime:
        return _EPOCH + timedelta(hours=12 * b)

    def status(self, b: int, i: int) -> EmailStatus:
        bucket = (i * 37) % 100
        if b < self.batches - self.in_progress:
            return EmailStatus.SENT if bucket < 95 else EmailStatus.ERROR
        for limit, status in ((60, EmailStatus.QUEUED), (95, EmailStatus.SENT), (98, EmailStatus.ERROR)):
            if bucket < limit:
                return status
        return EmailStatus.PENDING

    def rows(self) -> Iterator[SendRow]:
        for b in range(self.batches):
            batch, created = self.batch_id(b), to_iso(self.created(b))
            for i in range(self.per_batch):
                status, email = self.status(b, i), f"user{i}.b{b}@example.com"
                final = status in (EmailStatus.SENT, EmailStatus.ERROR)
                yield SendRow(
                    send_id=send_id_for(batch, email),
                    batch_id=batch,
                    email=email,
                    subject=f"Spring offer {i}: 20% off, this week only",
                    content=f"Hello customer {i},\nour spring collection is here. Reply STOP to unsubscribe.",
                    status=status,
                    created_at=created,
                    updated_at=to_iso(self.created(b) + timedelta(minutes=5)) if final else created,
                    attempts=1 if final else 0,
                    provider_message_id=f"0100018c-{i:08d}-{b:04d}" if status is EmailStatus.SENT else None,
                    error="MessageRejected: Email address is not verified." if status is EmailStatus.ERROR else None,
                )

    def batch_records(self) -> Iterator[BatchRecord]:
        for b in range(self.batches):
            done = b < self.batches - self.in_progress
            state = BatchState.DONE if done else BatchState.INGESTING
            total = self.per_batch
            yield BatchRecord(self.batch_id(b), to_iso(self.created(b)), state, total, 0, enqueued=total)


@dataclass(frozen=True, slots=True)
class Combo:
    name: str
    where: SendFilter
    pages: int = 1

    def naive(self) -> NaiveFilter:
        w = self.where
        return NaiveFilter(
            statuses=w.statuses,
            created_from=to_iso(w.created_from) if w.created_from else None,
            created_to=to_iso(w.created_to) if w.created_to else None,
            batch_id=w.batch_id,
        )


def combos(data: Dataset) -> list[Combo]:
    old, newest = data.batches // 8, data.batches - 1
    s = EmailStatus
    mid = data.batches // 4
    return [
        Combo("no filter", SendFilter()),
        *(Combo(f"status {status.value}", SendFilter(statuses=[status])) for status in s),
        Combo("status QUEUED+PENDING+ERROR", SendFilter(statuses=[s.QUEUED, s.PENDING, s.ERROR])),
        Combo("date range", SendFilter(created_from=data.created(mid), created_to=data.created(mid + 4))),
        Combo("batchId", SendFilter(batch_id=data.batch_id(old))),
        Combo("batchId+status", SendFilter(batch_id=data.batch_id(old), statuses=[s.ERROR])),
        Combo(
            "batchId+status+dates",
            SendFilter(
                batch_id=data.batch_id(newest),
                statuses=[s.QUEUED],
                created_from=data.created(newest) - timedelta(hours=1),
                created_to=data.created(newest) + timedelta(hours=1),
            ),
        ),
        Combo("cursor walk (batchId, 3 pages)", SendFilter(batch_id=data.batch_id(old + 1)), pages=3),
    ]


def load(table: str, data: Dataset) -> int:
    """Create the table as the project does and put every item straight into moto's backend."""
    client("dynamodb").create_table(**create_table_request(table))
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
    loaded = 0
    with unchecked_item_sizes():
        for record in data.batch_records():
            backend.put_item(table, batch_item(record))
        for row in data.rows():
            backend.put_item(table, send_row_item(row))
            loaded += 1
    return loaded


@dataclass
class ComboResult:
    pages: int
    rows_returned: int
    requests: int
    scanned_count: int
    count: int
    seconds: float  # mostly moto's and botocore's time: for orientation only


def _walk(design: str, table: str, combo: Combo) -> list[list[str]]:
    pages: list[list[str]] = []
    after: str | None = None
    for _ in range(combo.pages):
        if design == "ours":
            page = list_sends(SendIndex(table), combo.where, first=PAGE, after=after)
            rows, after = page.rows, page.next_cursor
        else:
            rows, after = naive_list(table, combo.naive(), first=PAGE, after=after)
        pages.append([row.send_id for row in rows])
        if after is None:
            break
    return pages


def measure(table: str, data: Dataset, meter: CallMeter, prefix: str = "") -> dict[str, dict[str, ComboResult]]:
    results: dict[str, dict[str, ComboResult]] = {"ours": {}, "naive": {}}
    for combo in combos(data):
        seen: dict[str, list[list[str]]] = {}
        for design in ("ours", "naive"):
            meter.phase = f"{prefix}{design}:{combo.name}"
            started = time.perf_counter()
            seen[design] = _walk(design, table, combo)
            seconds = time.perf_counter() - started
            stats = meter.of(meter.phase)
            rows = sum(len(page) for page in seen[design])
            results[design][combo.name] = ComboResult(
                len(seen[design]), rows, stats.total, stats.scanned_count, stats.count, seconds
            )
        if seen["ours"] != seen["naive"] or not seen["ours"][0]:
            raise RuntimeError(f"{combo.name}: ours and the naive listing disagree, or return nothing")
    meter.phase = "-"
    return results


def check_same_answers(meter: CallMeter) -> int:
    """Every Query/Scan reply over a small table, with and without the speed-ups: they must be equal."""
    small = Dataset(batches=8, per_batch=50)
    load("bench-check", small)
    meter.keep_replies = True
    measure("bench-check", small, meter, prefix="plain ")
    with frozen_reads():
        measure("bench-check", small, meter, prefix="fast ")
    meter.keep_replies = False
    answers = [
        [reply for phase, stats in meter.stats.items() if phase.startswith(prefix) for reply in stats.replies]
        for prefix in ("plain ", "fast ")
    ]
    if answers[0] != answers[1]:
        raise RuntimeError("the moto speed-ups changed a reply: scripts/bench_moto.py is wrong")
    return len(answers[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--per-batch", type=int, default=2_500)
    args = parser.parse_args()
    data = Dataset(args.batches, args.per_batch)
    meter = CallMeter()
    clock = {"started": time.perf_counter()}
    with mock_aws():
        meter.install()  # mock_aws replaces boto3's default session: hook the new one
        clear_client_cache()
        compared = check_same_answers(meter)
        clock["self_check"] = time.perf_counter()
        meter.reset()
        loaded = load("bench-listing", data)
        clock["load"] = time.perf_counter()
        with frozen_reads():
            results = measure("bench-listing", data, meter)
        clock["measure"] = time.perf_counter()
    marks = list(clock.items())
    seconds = {name: at - marks[i - 1][1] for i, (name, at) in enumerate(marks) if i}
    out: dict[str, Any] = {"rows": loaded, "batches": data.batches, "page": PAGE, "self_check_replies": compared}
    out["seconds"] = seconds
    out |= {design: {name: asdict(r) for name, r in by_combo.items()} for design, by_combo in results.items()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
