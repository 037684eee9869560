"""Items read per row returned, and rounds of requests per page, by listEmailStatus at 100,000 rows.

Run by scripts/bench/__main__.py in a process of its own (`python -m scripts.bench.queries`); prints one JSON
object. moto runs in this process (mock_aws). The table is filled straight through moto's backend
with the items the project's own items module writes (`send_row_item`, `counts_item`, `batch_item`,
so the index keys and stripes are the real ones); reads then go through botocore and moto as usual,
inside `frozen_reads()` (see scripts/bench/moto_reads.py), after a self-check that the speed-ups change no
reply on a small table.

Ours is `list_sends` (what the GraphQL resolver calls); "items read" counts every item DynamoDB read
for it, the batch summaries included (ScannedCount of each Query, each item a GetItem found), and a
round is a set of requests made side by side (the summaries, then each `read_round`). The naive
baseline scans the whole table with a FilterExpression for every page (scripts/bench/naive.py). Both
must return the same rows in the same order, page for page (the naive pages take the sizes of ours).

The data: 40 uploads of 2,500 rows twelve hours apart. The older ones are sent (95% SENT, 5% ERROR,
spread through each file); the three newest are still sending. Two of those have their statuses
spread evenly, as the counts-based planning assumes; the newest is sent in file order, as a worker
sends a real campaign: its first 40% SENT or ERROR, the rest QUEUED, with PENDING rows scattered.
"""

import argparse
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from campaign.aws.batch_counts import BatchCounts
from campaign.aws.batches import Batches
from campaign.aws.clients import clear_client_cache, client
from campaign.aws.items import batch_item, counts_item, send_row_item
from campaign.aws.send_index import SendIndex
from campaign.aws.table_schema import create_table_request
from campaign.domain.clock import to_iso
from campaign.domain.histogram import bucket_of
from campaign.domain.ids import batch_id_for, send_id_for
from campaign.domain.listing_plan import IndexAnswer, IndexQuery
from campaign.domain.models import BatchListing, BatchRecord, BatchState, SendRow, StatusCounts
from campaign.domain.retention import Retention
from campaign.domain.status import EmailStatus
from campaign.limits import DEFAULT_DEDUPE_WINDOW_DAYS, DEFAULT_RETENTION_DAYS, HISTOGRAM_BUCKETS
from campaign.services.list_sends import SendFilter, list_sends
from scripts.bench.calls import CallMeter
from scripts.bench.moto_reads import frozen_reads, unchecked_item_sizes
from scripts.bench.naive import NaiveFilter, naive_list
from scripts.loopback import REGION

PAGE = 50
_EPOCH = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
_RETENTION = Retention(DEFAULT_DEDUPE_WINDOW_DAYS, DEFAULT_RETENTION_DAYS)
_S = EmailStatus


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
            return _S.SENT if bucket < 95 else _S.ERROR
        if b == self.batches - 1:  # sent in file order: done up to 40% of the file
            if i < 0.4 * self.per_batch:
                return _S.SENT if bucket < 95 else _S.ERROR
            return _S.PENDING if bucket < 2 else _S.QUEUED
        for limit, status in ((60, _S.QUEUED), (95, _S.SENT), (98, _S.ERROR)):
            if bucket < limit:
                return status
        return _S.PENDING

    def rows(self) -> Iterator[SendRow]:
        for b in range(self.batches):
            batch, created = self.batch_id(b), to_iso(self.created(b))
            for i in range(self.per_batch):
                status, email = self.status(b, i), f"user{i}.b{b}@example.com"
                final = status in (_S.SENT, _S.ERROR)
                content = f"Hello customer {i},\nour spring collection is here. Reply STOP to unsubscribe."
                yield SendRow(
                    send_id=send_id_for(batch, email),
                    batch_id=batch,
                    seq=i,
                    email=email,
                    subject=f"Spring offer {i}: 20% off, this week only",
                    status=status,
                    created_at=created,
                    updated_at=to_iso(self.created(b) + timedelta(minutes=5)) if final else created,
                    content=content,
                    content_json_bytes=len(json.dumps(content)),
                    attempts=1 if final else 0,
                    provider_message_id=f"0100018c-{i:08d}-{b:04d}" if status is _S.SENT else None,
                    error="MessageRejected: Email address is not verified." if status is _S.ERROR else None,
                    bucket=bucket_of(i, self.per_batch),
                )

    def listing(self, b: int) -> BatchListing:
        """The batch's summary as the stream consumer leaves it: totals and per-stretch counts."""
        statuses = [self.status(b, i) for i in range(self.per_batch)]

        def counts_of(indexes: range | list[int]) -> StatusCounts:
            chosen = [statuses[i] for i in indexes]
            return StatusCounts(*(chosen.count(s) for s in (_S.PENDING, _S.QUEUED, _S.SENT, _S.ERROR)))

        stretches = [
            [i for i in range(self.per_batch) if bucket_of(i, self.per_batch) == k] for k in range(HISTOGRAM_BUCKETS)
        ]
        histogram = tuple(counts_of(stretch) for stretch in stretches)
        created = to_iso(self.created(b))
        return BatchListing(
            self.batch_id(b), created, self.per_batch, counts_of(range(self.per_batch)), 0, histogram, self.per_batch
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
    mid = data.batches // 4
    return [
        Combo("no filter", SendFilter()),
        Combo("no filter, 3 pages", SendFilter(), pages=3),
        *(Combo(f"status {status.value}", SendFilter(statuses=[status])) for status in _S),
        Combo("status QUEUED+PENDING+ERROR", SendFilter(statuses=[_S.QUEUED, _S.PENDING, _S.ERROR])),
        Combo("status SENT+QUEUED", SendFilter(statuses=[_S.SENT, _S.QUEUED])),
        Combo("status ERROR, 3 pages", SendFilter(statuses=[_S.ERROR]), pages=3),
        Combo("date range", SendFilter(created_from=data.created(mid), created_to=data.created(mid + 4))),
        Combo("batchId", SendFilter(batch_id=data.batch_id(old))),
        Combo("batchId+status", SendFilter(batch_id=data.batch_id(old), statuses=[_S.ERROR])),
        Combo(
            "batchId+status+dates",
            SendFilter(
                batch_id=data.batch_id(newest),
                statuses=[_S.QUEUED],
                created_from=data.created(newest) - timedelta(hours=1),
                created_to=data.created(newest) + timedelta(hours=1),
            ),
        ),
        Combo(
            "batchId sent in file order + QUEUED, 3 pages",
            SendFilter(batch_id=data.batch_id(newest), statuses=[_S.QUEUED]),
            pages=3,
        ),
        Combo("cursor walk (batchId, 3 pages)", SendFilter(batch_id=data.batch_id(old + 1)), pages=3),
    ]


def load(table: str, data: Dataset) -> int:
    """Create the table as the project does and put every item straight into moto's backend."""
    client("dynamodb").create_table(**create_table_request(table))
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
    loaded = 0
    with unchecked_item_sizes():
        for b, record in enumerate(data.batch_records()):
            expires = _RETENTION.expiry_of(record.created_at)
            backend.put_item(table, batch_item(record, expires))
            backend.put_item(table, counts_item(data.listing(b), expires))
        for row in data.rows():
            backend.put_item(table, send_row_item(row, _RETENTION.expiry_of(row.created_at)))
            loaded += 1
    return loaded


class RoundCountingIndex(SendIndex):
    """The project's index, noting how many rounds of requests each page makes."""

    def __init__(self, table_name: str) -> None:
        super().__init__(table_name)
        self.rounds = 0

    def batch_summary(self, batch_id: str) -> BatchListing | None:
        self.rounds += 1
        return super().batch_summary(batch_id)

    def batch_summaries(self, *, lower: str | None, upper: str | None, limit: int) -> list[BatchListing]:
        self.rounds += 1
        return super().batch_summaries(lower=lower, upper=upper, limit=limit)

    def read_round(self, queries: Sequence[IndexQuery]) -> list[IndexAnswer]:
        self.rounds += 1
        return super().read_round(queries)


@dataclass
class ComboResult:
    pages: int
    rows_returned: int
    requests: int
    scanned_count: int  # items read
    count: int
    max_rounds: int  # of the pages of this combination
    seconds: float  # mostly moto's and botocore's time: for orientation only


def _walk_ours(table: str, combo: Combo) -> tuple[list[list[str]], int]:
    """The rows of up to `combo.pages` pages, page by page, and the most rounds a page took."""
    pages: list[list[str]] = []
    after: str | None = None
    rounds = 0
    for _ in range(combo.pages):
        index = RoundCountingIndex(table)
        page = list_sends(index, combo.where, first=PAGE, after=after)
        pages.append([row.send_id for row in page.rows])
        rounds, after = max(rounds, index.rounds), page.next_cursor
        if after is None:
            break
    return pages, rounds


def _walk_naive(table: str, combo: Combo, sizes: list[int]) -> list[list[str]]:
    """The naive listing's pages of the same sizes as ours (each one a Scan of the whole table)."""
    pages: list[list[str]] = []
    after = None
    for size in sizes:
        rows, _ = naive_list(table, combo.naive(), first=max(1, size), after=after)
        pages.append([row.send_id for row in rows])
        if rows:
            after = (rows[-1].created_at, rows[-1].batch_id, rows[-1].seq)
    return pages


def measure(table: str, data: Dataset, meter: CallMeter, prefix: str = "") -> dict[str, dict[str, ComboResult]]:
    results: dict[str, dict[str, ComboResult]] = {"ours": {}, "naive": {}}
    for combo in combos(data):
        meter.phase = f"{prefix}ours:{combo.name}"
        started = time.perf_counter()
        ours, rounds = _walk_ours(table, combo)
        stats = meter.of(meter.phase)
        returned = sum(len(page) for page in ours)
        results["ours"][combo.name] = ComboResult(
            len(ours), returned, stats.total, stats.scanned_count, stats.count, rounds, time.perf_counter() - started
        )
        meter.phase = f"{prefix}naive:{combo.name}"
        started = time.perf_counter()
        naive = _walk_naive(table, combo, [len(page) for page in ours])
        stats = meter.of(meter.phase)
        results["naive"][combo.name] = ComboResult(
            len(naive), returned, stats.total, stats.scanned_count, stats.count, 1, time.perf_counter() - started
        )
        if naive != ours or not returned:
            raise RuntimeError(f"{combo.name}: ours and the naive listing disagree, or return nothing")
    meter.phase = "-"
    return results


def batch_counts_reads(table: str, data: Dataset, meter: CallMeter) -> dict[str, int]:
    """What `batch(batchId)` reads for its summary and counts: the batch's record and its counts item."""
    meter.phase = "batch"
    batch_id = data.batch_id(data.batches - 1)
    Batches(table, _RETENTION).get(batch_id)
    BatchCounts(table, _RETENTION).get(batch_id)
    stats = meter.of("batch")
    meter.phase = "-"
    return {"items_read": stats.scanned_count, "requests": stats.total, "rows_in_batch": data.per_batch}


def check_same_answers(meter: CallMeter) -> int:
    """Every Query/Scan reply over a small table, with and without the speed-ups: they must be equal."""
    small = Dataset(batches=8, per_batch=50)
    load("bench-check", small)
    meter.keep_replies = True
    measure("bench-check", small, meter, prefix="plain ")
    with frozen_reads():
        measure("bench-check", small, meter, prefix="fast ")
    meter.keep_replies = False
    # A round's queries run side by side, so replies are compared as a collection, not in order.
    answers = [
        sorted(
            json.dumps(reply, sort_keys=True, default=str)
            for phase, stats in meter.stats.items()
            if phase.startswith(prefix)
            for reply in stats.replies
        )
        for prefix in ("plain ", "fast ")
    ]
    if answers[0] != answers[1]:
        raise RuntimeError("the moto speed-ups changed a reply: scripts/bench/moto_reads.py is wrong")
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
            counts = batch_counts_reads("bench-listing", data, meter)
        clock["measure"] = time.perf_counter()
    marks = list(clock.items())
    seconds = {name: at - marks[i - 1][1] for i, (name, at) in enumerate(marks) if i}
    out: dict[str, Any] = {"rows": loaded, "batches": data.batches, "page": PAGE, "self_check_replies": compared}
    out["seconds"] = seconds
    out |= {design: {name: asdict(r) for name, r in by_combo.items()} for design, by_combo in results.items()}
    out["batch_counts"] = counts
    print(json.dumps(out))


if __name__ == "__main__":
    main()
