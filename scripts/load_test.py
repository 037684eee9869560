"""A bounded load run against the local stack, on loopback only (`make load`).

With --start-stack it starts the local stack itself (scripts/local/stack.py: free loopback ports,
stopped at the end whatever happens); otherwise it targets a running `make run` (--base-url, API_KEY).

For --seconds, --concurrency workers mix uploads (each a distinct CSV of 20-50 valid rows with
addresses unique to this run, so each creates a new batch) with GraphQL reads (listEmailStatus with
random filters, cursor walks, batch summaries). Then it waits, at most --drain-seconds, until every
row of every batch it created is final (SENT or ERROR), polling each batch's counts, and prints
requests, errors and p50/p95/p99 latency by kind, rows accepted and final, and the time to drain.

Exit status 0 only if there was no error (a non-2xx answer, a GraphQL error, a failed request, an
upload that was not a new batch), no listing anomaly (a row twice in one page, a page not newest
first, a row repeated across the pages of a cursor walk: all ruled out by the README; counted and
printed apart from errors) and every accepted row is final.

    .venv/bin/python -m scripts.load_test --start-stack                # what `make load` runs
    API_KEY=<key> .venv/bin/python -m scripts.load_test --base-url http://127.0.0.1:8000
"""

import argparse
import asyncio
import os
import random
import secrets
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from campaign.aws.queue_spec import VISIBILITY_TIMEOUT_SECONDS
from scripts.local.stack import local_stack

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
STATUSES = ("PENDING", "QUEUED", "SENT", "ERROR")
REQUEST_TIMEOUT_SECONDS = 30.0
MAX_WALK_PAGES = 5
# Share of the load loop's operations that are uploads; the rest are GraphQL reads. Uploads are what
# the single local worker has to drain afterwards, so they are kept to a share it can keep up with.
DEFAULT_UPLOAD_SHARE = 0.25
# Past the queue's visibility timeout: a message that reached the worker before its row was written
# is retried after that timeout, and its row still counts as drained.
DEFAULT_DRAIN_SECONDS = VISIBILITY_TIMEOUT_SECONDS + 60.0

LIST_QUERY = """
query($status: [EmailStatus!], $from: DateTime, $to: DateTime, $batchId: String, $first: Int!, $after: String) {
  listEmailStatus(status: $status, from: $from, to: $to, batchId: $batchId, first: $first, after: $after) {
    items { sendId batchId status createdAt }
    nextCursor
  }
}
"""
BATCH_QUERY = """
query($b: String!) {
  batch(batchId: $b) { batchId total enqueued notEnqueued counts { pending queued sent error } }
}
"""


class Refused(Exception):
    """An answer that counts as an error (kept apart from transport failures for the report)."""


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    anomalies: Counter[str] = field(default_factory=Counter)
    anomaly_samples: list[str] = field(default_factory=list)
    # batchId -> rows written by its upload (enqueued + notEnqueued)
    batches: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    load_before: float = field(default_factory=lambda: os.getloadavg()[0])

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        if len(self.error_samples) < 20:
            self.error_samples.append(f"{kind}: {detail[:300]}")

    def anomaly(self, kind: str, detail: str) -> None:
        self.anomalies[kind] += 1
        if len(self.anomaly_samples) < 10:
            self.anomaly_samples.append(f"{kind}: {detail[:300]}")

    def check_page(self, items: list[dict[str, Any]], variables: dict[str, Any]) -> None:
        """The README's listing promises, checked on every page: each row once, uploads newest first."""
        ids = [item["sendId"] for item in items]
        if len(set(ids)) != len(ids):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            statuses = [(item["sendId"][:8], item["status"]) for item in items if item["sendId"] in twice]
            self.anomaly("row twice in one page", f"{statuses} with {variables}")
        created = [item["createdAt"] for item in items]
        if created != sorted(created, reverse=True):
            self.anomaly("page not newest-first", f"with {variables}")


@dataclass
class Run:
    client: httpx.AsyncClient
    stats: Stats
    rng: random.Random
    run_id: str
    max_requests: int
    upload_share: float
    deadline: float = 0.0
    uploads: int = 0

    async def request(self, kind: str, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        """One timed request; a transport failure or non-2xx is an error of its kind (and None)."""
        if self.stats.requests >= self.max_requests:
            raise Refused("request budget exhausted")
        self.stats.requests += 1
        started = time.perf_counter()
        try:
            response = await self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.stats.latencies[kind].append(time.perf_counter() - started)
            self.stats.error(kind, f"{type(exc).__name__}: {exc}")
            return None
        self.stats.latencies[kind].append(time.perf_counter() - started)
        if not 200 <= response.status_code < 300:
            self.stats.error(kind, f"HTTP {response.status_code}: {response.text}")
            return None
        return response

    async def graphql(self, kind: str, query: str, variables: dict[str, Any]) -> Any:
        response = await self.request(kind, "POST", "/graphql", json={"query": query, "variables": variables})
        if response is None:
            return None
        body = response.json()
        if body.get("errors"):
            self.stats.error(kind, f"GraphQL errors: {body['errors']} for {variables}")
            return None
        return body.get("data")

    # --- operations ---

    async def upload(self) -> None:
        self.uploads += 1
        number = self.uploads
        rows = self.rng.randint(20, 50)
        lines = ["email,subject,content"] + [
            f"load-{self.run_id}-{number}-{i}@example.com,Load {number}/{i},Body {i} of upload {number}"
            for i in range(rows)
        ]
        content = ("\n".join(lines) + "\n").encode()
        response = await self.request(
            "upload", "POST", "/upload", files={"file": (f"load-{number}.csv", content, "text/csv")}
        )
        if response is None:
            return
        body = response.json()
        if response.status_code != 201 or body.get("duplicate") or body.get("total") != rows:
            self.stats.error("upload", f"not a new batch of {rows} rows: {response.status_code} {body}")
            return
        if body.get("skipped") or body.get("notEnqueued"):
            self.stats.error("upload", f"rows skipped or not enqueued: {body}")
        self.stats.batches[body["batchId"]] = int(body["enqueued"]) + int(body["notEnqueued"])

    def _filters(self) -> dict[str, Any]:
        variables: dict[str, Any] = {"first": self.rng.randint(1, 200)}
        if self.rng.random() < 0.6:
            variables["status"] = self.rng.sample(STATUSES, self.rng.randint(1, len(STATUSES)))
        if self.rng.random() < 0.4:
            now = datetime.now(UTC)
            variables["from"] = (now - timedelta(minutes=self.rng.randint(1, 30))).isoformat()
            if self.rng.random() < 0.5:
                variables["to"] = now.isoformat()
        if self.stats.batches and self.rng.random() < 0.4:
            variables["batchId"] = self.rng.choice(list(self.stats.batches))
        return variables

    async def list_once(self) -> None:
        variables = self._filters()
        data = await self.graphql("list", LIST_QUERY, variables)
        if data is not None:
            self.stats.check_page(data["listEmailStatus"]["items"], variables)

    async def walk(self) -> None:
        """Follow nextCursor a few pages; a row seen on two pages is an anomaly (README promise)."""
        variables = self._filters() | {"first": self.rng.randint(5, 50)}
        seen: set[str] = set()
        for _ in range(MAX_WALK_PAGES):
            if time.monotonic() >= self.deadline:  # the load phase ends on time, mid-walk if need be
                return
            data = await self.graphql("walk", LIST_QUERY, variables)
            if data is None:
                return
            page = data["listEmailStatus"]
            self.stats.check_page(page["items"], variables)
            ids = [item["sendId"] for item in page["items"]]
            repeated = seen.intersection(ids)
            if repeated:
                self.stats.anomaly("row repeated across pages", f"{len(repeated)} row(s) with {variables}")
                return
            seen.update(ids)
            if page["nextCursor"] is None:
                return
            variables = variables | {"after": page["nextCursor"]}

    async def batch_once(self) -> None:
        if not self.stats.batches:
            await self.list_once()
            return
        batch_id = self.rng.choice(list(self.stats.batches))
        data = await self.graphql("batch", BATCH_QUERY, {"b": batch_id})
        if data is not None and data["batch"] is None:
            self.stats.error("batch", f"batch {batch_id} answered by an upload is not found")

    async def worker(self) -> None:
        while time.monotonic() < self.deadline:
            roll = self.rng.random()
            try:
                if roll < self.upload_share:
                    await self.upload()
                elif roll < self.upload_share + (1 - self.upload_share) * 0.4:
                    await self.list_once()
                elif roll < self.upload_share + (1 - self.upload_share) * 0.7:
                    await self.walk()
                else:
                    await self.batch_once()
            except Refused:
                return

    async def drain(self, limit_seconds: float, concurrency: int) -> tuple[dict[str, dict[str, int]], float]:
        """Poll every created batch's counts until each counts all its rows final, or the limit. (The
        counts are kept by a stream consumer a moment behind the rows, so zero PENDING and QUEUED
        alone could be read before the rows were counted at all.)"""
        started = time.monotonic()
        counts: dict[str, dict[str, int]] = {}
        open_batches = set(self.stats.batches)
        gate = asyncio.Semaphore(concurrency)

        async def poll(batch_id: str) -> None:
            async with gate:
                data = await self.graphql("drain", BATCH_QUERY, {"b": batch_id})
            if data is None or data["batch"] is None:
                return
            counts[batch_id] = data["batch"]["counts"]
            final = counts[batch_id]["sent"] + counts[batch_id]["error"]
            if final >= self.stats.batches[batch_id] and counts[batch_id]["pending"] == counts[batch_id]["queued"] == 0:
                open_batches.discard(batch_id)

        while open_batches and time.monotonic() - started < limit_seconds:
            try:
                await asyncio.gather(*(poll(batch_id) for batch_id in sorted(open_batches)))
            except Refused:
                break
            if open_batches:
                await asyncio.sleep(1.0)
        return counts, time.monotonic() - started


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def report(stats: Stats, args: argparse.Namespace, load_seconds: float, counts: dict[str, dict[str, int]]) -> str:
    lines = [
        f"load test against {args.base_url}: concurrency {args.concurrency}, upload share {args.upload_share}, "
        f"load phase {load_seconds:.1f} s",
        f"machine: {os.cpu_count()} CPUs, load average {stats.load_before:.2f} before, {os.getloadavg()[0]:.2f} after",
        "",
        f"{'kind':<8} {'requests':>9} {'served':>7} {'req/s':>7} {'errors':>7} "
        + " ".join(f"{name:>8}" for name in ("p50 ms", "p95 ms", "p99 ms", "max ms")),
    ]
    kinds = ["upload", "list", "walk", "batch", "drain"]
    for kind in kinds:
        values = stats.latencies.get(kind, [])
        if not values:
            lines.append(f"{kind:<8} {0:>9} {0:>7} {'-':>7} {stats.errors[kind]:>7}")
            continue
        rate = f"{len(values) / load_seconds:.1f}" if kind != "drain" else "-"
        p50, p95, p99 = (percentile(values, p) * 1000 for p in (50, 95, 99))
        lines.append(
            f"{kind:<8} {len(values):>9} {len(values) - stats.errors[kind]:>7} {rate:>7} {stats.errors[kind]:>7} "
            f"{p50:>8.1f} {p95:>8.1f} {p99:>8.1f} {max(values) * 1000:>8.1f}"
        )
    total_requests = sum(len(v) for v in stats.latencies.values())
    errors = sum(stats.errors.values())
    lines.append(f"{'total':<8} {total_requests:>9} {total_requests - errors:>7} {'':>7} {errors:>7}")
    accepted = sum(stats.batches.values())
    final = sum(c["sent"] + c["error"] for b, c in counts.items() if b in stats.batches)
    sent = sum(c["sent"] for c in counts.values())
    failed = sum(c["error"] for c in counts.values())
    lines += [
        "",
        f"batches created : {len(stats.batches)}",
        f"rows accepted   : {accepted}",
        f"rows final      : {final} (SENT {sent}, ERROR {failed})",
    ]
    return "\n".join(lines)


def _check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK_HOSTS:
        raise argparse.ArgumentTypeError(
            f"refusing {base_url!r}: this load test only targets a local stack on {sorted(LOOPBACK_HOSTS)}"
        )
    return base_url.rstrip("/")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start-stack", action="store_true", help="start (and stop) a local stack on free ports")
    parser.add_argument("--base-url", type=_check_base_url, default="http://127.0.0.1:8000")
    parser.add_argument("--api-key", default=os.environ.get("API_KEY"), help="default: $API_KEY")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load phase (default 60)")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent workers (default 4)")
    parser.add_argument(
        "--drain-seconds", type=float, default=DEFAULT_DRAIN_SECONDS, help="wait for final rows at most this long"
    )
    parser.add_argument("--upload-share", type=float, default=DEFAULT_UPLOAD_SHARE, help="share of operations")
    parser.add_argument("--max-requests", type=int, default=200_000, help="hard cap on requests sent")
    parser.add_argument("--seed", type=int, default=None, help="seed the operation mix (default: random)")
    args = parser.parse_args(argv)
    if args.start_stack:
        args.api_key = secrets.token_urlsafe(24)
    elif not args.api_key:
        parser.error("pass --start-stack, or --api-key / API_KEY (the key `make run` printed)")
    if not 0 < args.seconds <= 3600 or not 1 <= args.concurrency <= 256:
        parser.error("--seconds must be in (0, 3600] and --concurrency in [1, 256]")
    if not 0 <= args.drain_seconds <= 600 or not 0 <= args.upload_share <= 1:
        parser.error("--drain-seconds must be in [0, 600] and --upload-share in [0, 1]")
    return args


async def main_async(args: argparse.Namespace) -> int:
    headers = {"x-api-key": args.api_key}
    limits = httpx.Limits(max_connections=args.concurrency + 2, max_keepalive_connections=args.concurrency + 2)
    async with httpx.AsyncClient(
        base_url=args.base_url, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits
    ) as client:
        try:
            health = await client.get("/health")
        except httpx.HTTPError as exc:
            print(f"{args.base_url}/health: {type(exc).__name__}: {exc}; is `make run` up?", file=sys.stderr)
            return 2
        if health.status_code != 200:
            print(f"{args.base_url}/health answered {health.status_code}; is `make run` up?", file=sys.stderr)
            return 2
        stats = Stats()
        run = Run(
            client=client,
            stats=stats,
            rng=random.Random(args.seed),
            run_id=secrets.token_hex(4),
            max_requests=args.max_requests,
            upload_share=args.upload_share,
        )
        started = time.monotonic()
        run.deadline = started + args.seconds
        await asyncio.gather(*(run.worker() for _ in range(args.concurrency)))
        load_seconds = time.monotonic() - started
        counts, drain_seconds = await run.drain(args.drain_seconds, args.concurrency)
    accepted = sum(stats.batches.values())
    final = sum(c["sent"] + c["error"] for c in counts.values())
    drained = final == accepted and len(counts) == len(stats.batches)
    print(report(stats, args, load_seconds, counts))
    if drained:
        print(f"time to drain   : {drain_seconds:.1f} s after the load phase ended")
    else:
        print(f"time to drain   : NOT DRAINED within {args.drain_seconds:.0f} s ({accepted - final} rows not final)")
    errors = sum(stats.errors.values())
    print(f"errors          : {errors}")
    for sample in stats.error_samples:
        print(f"  - {sample}")
    anomalies = sum(stats.anomalies.values())
    print(f"listing anomalies: {anomalies}" + "".join(f"\n  {n:>5} {kind}" for kind, n in stats.anomalies.items()))
    for sample in stats.anomaly_samples:
        print(f"  - {sample}")
    failed = errors > 0 or anomalies > 0 or not drained
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.start_stack:
        return asyncio.run(main_async(args))
    log = Path(tempfile.mkdtemp(prefix="load-test-")) / "run.log"
    print(f"starting the local stack (its output: {log})", flush=True)
    with local_stack(args.api_key, log) as stack:
        args.base_url = stack.base_url
        status = asyncio.run(main_async(args))
        print("stopping the local stack", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
