"""Peak RSS of the streaming ingest (campaign/services/stream_ingest.py) at 10k and at 1M rows.

`python -m scripts.bench.memory` writes both files to a temporary directory and ingests each in a
fresh interpreter (`--file PATH --batch-id ID`), which prints its peak RSS (getrusage ru_maxrss) as
JSON. The gateways there are counting no-ops: subclasses of the real ones that count what they are
given and answer success, with no boto3 client and no emulator, so only the ingest's own memory
(reader, window, duplicate set, worker threads) is in the figure. The file is read from disk through
the same `open(batch_id) -> BinaryIO` the S3 upload store offers.
"""

import argparse
import contextlib
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from campaign.aws.batch_counts import BatchCounts
from campaign.aws.batches import Batches, NewBatch
from campaign.aws.bodies import Bodies
from campaign.aws.message_keys import HeldElsewhere, KeyClaim, MessageKeys
from campaign.aws.send_queue import SendJob, SendQueue
from campaign.aws.send_rows import SendRows
from campaign.aws.suppressions import Suppressions
from campaign.domain.ids import batch_id_for_digest
from campaign.domain.models import BatchRecord, BatchState, SendRow
from campaign.domain.retention import Retention
from campaign.limits import DEFAULT_DEDUPE_WINDOW_DAYS, DEFAULT_RETENTION_DAYS
from campaign.services.ingest import IngestGateways
from campaign.services.stream_ingest import StreamGateways, StreamOutcome, ingest_upload
from scripts.bench.data import accepted_rows, write_campaign_csv
from scripts.loopback import PROJECT_ROOT

SIZES = (10_000, 1_000_000)


class CountingBatches(Batches):
    def __init__(self) -> None:  # no client: nothing here talks to AWS
        self.calls: Counter[str] = Counter()

    def claim(self, batch: BatchRecord) -> NewBatch:
        self.calls["claim"] += 1
        return NewBatch(batch)

    def take_over(self, batch: BatchRecord, lease_until: str) -> bool:
        self.calls["take_over"] += 1
        return True

    def start(self, batch: BatchRecord, previous: BatchState) -> bool:
        self.calls["start"] += 1
        return True

    def checkpoint(self, batch: BatchRecord, held_lease: str | None) -> bool:
        self.calls["checkpoint"] += 1
        return True

    def fail(self, batch: BatchRecord, held_lease: str | None, code: str, message: str) -> bool:
        self.calls["fail"] += 1
        return True

    def finish(self, batch: BatchRecord) -> None:
        self.calls["finish"] += 1

    def get(self, batch_id: str) -> BatchRecord | None:
        self.calls["get"] += 1
        return None


class CountingRows(SendRows):
    def __init__(self) -> None:
        self.created = 0

    def create(self, rows: Sequence[SendRow], expires_at: int) -> None:
        del expires_at
        self.created += len(rows)

    def existing(self, send_ids: Sequence[str]) -> dict[str, SendRow]:
        return {}


class CountingQueue(SendQueue):
    def __init__(self) -> None:
        self.enqueued = 0

    def enqueue(self, jobs: Sequence[SendJob], delay_seconds: int | None = None) -> dict[str, str]:
        del delay_seconds
        self.enqueued += len(jobs)
        return {}


class CountingKeys(MessageKeys):
    """Every message key is new (no earlier upload holds one)."""

    def __init__(self) -> None:
        self.claimed = 0

    def claim(
        self, batch_id: str, claims: Sequence[KeyClaim], now: datetime, expires_at: int
    ) -> dict[str, HeldElsewhere]:
        self.claimed += len(claims)
        return {}


class CountingBodies(Bodies):
    def __init__(self) -> None:
        self.stored = 0

    def put(self, bodies: Mapping[str, str], expires_at: int) -> None:
        self.stored += len(bodies)


class NoCounts(BatchCounts):
    def __init__(self) -> None:
        pass

    def start(self, batch_id: str, created_at: str, positions: int) -> None:
        pass

    def leave_index(self, batch_id: str) -> None:
        pass


class NoSuppressions(Suppressions):
    def __init__(self) -> None:
        pass

    def suppressed(self, email_keys: Collection[str]) -> set[str]:
        return set()


class FileUploads:
    def __init__(self, path: Path) -> None:
        self._path = path

    def open(self, batch_id: str) -> BinaryIO:
        del batch_id
        return self._path.open("rb")


class NoDeadline:
    def seconds_left(self) -> float:
        return 1e9


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def ingest_file(path: Path, batch_id: str) -> dict[str, Any]:
    """The child's work: one streaming ingest with no-op gateways; peak RSS before and after."""
    batches, rows, queue, keys = CountingBatches(), CountingRows(), CountingQueue(), CountingKeys()
    retention = Retention(DEFAULT_DEDUPE_WINDOW_DAYS, DEFAULT_RETENTION_DAYS)
    ingest = IngestGateways(batches, rows, queue, keys, CountingBodies(), NoCounts(), retention, NoSuppressions())
    gateways = StreamGateways(ingest, FileUploads(path))
    before = _max_rss_mb()
    started = time.perf_counter()
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # metrics (EMF) print to stdout
        outcome = ingest_upload(batch_id, gateways, NoDeadline())
    seconds = time.perf_counter() - started
    if outcome is not StreamOutcome.DONE:
        raise RuntimeError(f"streaming ingest ended {outcome.value}")
    return {
        "rss_before_mb": before,
        "peak_rss_mb": _max_rss_mb(),
        "seconds": seconds,
        "rows_created": rows.created,
        "rows_enqueued": queue.enqueued,
        "keys_claimed": keys.claimed,
        "batch_calls": dict(batches.calls),
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def measure(sizes: Sequence[int]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        for rows in sizes:
            path = Path(folder) / f"campaign-{rows}.csv"
            size = write_campaign_csv(path, rows, f"m{rows}")
            batch_id = batch_id_for_digest(_sha256(path))
            child = [sys.executable, "-m", "scripts.bench.memory", "--file", str(path), "--batch-id", batch_id]
            done = subprocess.run(child, cwd=PROJECT_ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"streaming ingest of {rows} rows failed:\n{done.stderr}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if result["rows_enqueued"] != accepted_rows(rows):
                raise RuntimeError(f"{rows} rows: {result['rows_enqueued']} queued, expected {accepted_rows(rows)}")
            results[str(rows)] = result | {"file_bytes": size}
            path.unlink()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--file", type=Path, help="(child) ingest this file and print peak RSS")
    parser.add_argument("--batch-id")
    parser.add_argument("--sizes", type=int, nargs=2, default=SIZES, help="the two file sizes, in data rows")
    args = parser.parse_args()
    result = ingest_file(args.file, args.batch_id) if args.file is not None else measure(args.sizes)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
