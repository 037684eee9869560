"""Ingest and worker, ours and the naive baseline, against moto's server on loopback.

Run by scripts/bench/__main__.py in a process of its own (`python -m scripts.bench.pipeline`, environment set
by the caller); prints one JSON object. The emulator is the project's own (moto's server with the SQS
speed-up and the per-item DynamoDB lock, scripts/local/emulator.py) in a separate process, so its
CPU time is not taken from this process, and it is reset to an empty stack before every run.

Per design, a run ingests one file (timed: the ingest call) and then lets the worker take the first
messages off the queue the way Lambda's event source mapping does (receive a batch of the mapping's
size, campaign.limits.WORKER_BATCH_SIZE, invoke, delete);
requests per sent row are counted over those. The worker is timed inside the handler only: in AWS
the mapping receives and deletes outside the function, and those requests are not the worker's
(they are counted apart, as "poll"). Every request of both phases gets the simulated network delay.

Our ingest is also run against a zero-cost AWS (scripts/bench/calls.py `zero_cost_aws`): it has
eight steps in flight, so the emulator's time cannot simply be subtracted from its wall time.
"""

import argparse
import contextlib
import json
import os
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import worker.handler
from campaign.aws.clients import clear_client_cache, client
from campaign.caches import clear_all
from campaign.domain.ids import batch_id_for
from campaign.domain.retention import Retention
from campaign.services.ingest import IngestGateways, ingest_csv, ingest_gateways_for
from scripts.bench.calls import CallMeter, PhaseStats, zero_cost_aws
from scripts.bench.data import campaign_csv
from scripts.bench.naive import NaiveIngest, NaiveWorker
from scripts.local.provision import LocalResources, environment_of, provision
from scripts.local.sqs_poller import Handler, poll_once
from scripts.loopback import serving

DELAYED_PHASES = frozenset({"ingest", "worker", "ingest_sent_before", "ingest_own_bodies"})
# Every row of the second file ours ingests has its own body this large: too large for its row.
OWN_BODY_BYTES = 2_000


@dataclass
class PhaseResult:
    seconds: float
    requests: dict[str, int]
    emulator_seconds: float

    @classmethod
    def of(cls, seconds: float, stats: PhaseStats) -> "PhaseResult":
        return cls(seconds, dict(stats.requests), stats.emulator_seconds)


@dataclass
class RunResult:
    accepted: int
    ingest: PhaseResult
    delivered: int = 0
    worker: PhaseResult | None = None
    poll_requests: dict[str, int] = field(default_factory=dict)
    sent_rows_in_table: int = 0
    # Ours only: the same rows uploaded again in another file, once the first upload is sent.
    already_accepted: int = 0
    ingest_sent_before: PhaseResult | None = None
    # Ours only: another file whose every row has its own 2 KB body.
    own_bodies_accepted: int = 0
    ingest_own_bodies: PhaseResult | None = None


@dataclass(frozen=True, slots=True)
class Files:
    content: bytes
    # As many rows, each with its own body too large for its row.
    own_bodies: bytes


@dataclass(frozen=True, slots=True)
class Design:
    name: str
    ingest: Callable[[bytes, LocalResources], int]
    handler: Callable[[LocalResources], Handler]


def _ours_gateways(stack: LocalResources) -> IngestGateways:
    # No enqueue delay: a 2 s DelaySeconds would only make the bench wait (request counts are the same).
    return ingest_gateways_for(stack.table_name, stack.queue_url, 0, Retention(30, 90))


def _ours_ingest(content: bytes, stack: LocalResources) -> int:
    result = ingest_csv(content, _ours_gateways(stack))
    if result.not_enqueued or result.duplicate:
        raise RuntimeError(f"unexpected ingest outcome: {result}")
    return result.enqueued


def _ours_ingest_sent_before(content: bytes, stack: LocalResources) -> int:
    """The same list saved again (CRLF line endings: another file, the same messages); returns the
    rows it found accepted by the first upload."""
    result = ingest_csv(content.replace(b"\n", b"\r\n"), _ours_gateways(stack))
    if result.enqueued or result.duplicate:
        raise RuntimeError(f"unexpected ingest outcome: {result}")
    return result.already_accepted


def _ours_handler(stack: LocalResources) -> Handler:
    del stack  # the worker reads its settings from the environment, like the Lambda
    return worker.handler.handler


def _naive_ingest(content: bytes, stack: LocalResources) -> int:
    return NaiveIngest(stack.table_name, stack.queue_url).ingest(content)


def _naive_handler(stack: LocalResources) -> Handler:
    return NaiveWorker(stack.table_name, stack.sender_address).handler


OURS = Design("ours", _ours_ingest, _ours_handler)
NAIVE = Design("naive", _naive_ingest, _naive_handler)


@contextlib.contextmanager
def emulator() -> Iterator[str]:
    with (
        open(os.environ.get("BENCH_EMULATOR_LOG", os.devnull), "w") as log,
        serving("scripts.local.emulator", stderr=log) as (endpoint, _pid),
    ):
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        yield endpoint


def fresh_stack(endpoint: str) -> LocalResources:
    """An empty emulator with the project's resources, and no process cache pointing at old ones."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30).close()
    clear_client_cache()
    resources = provision("bench")
    os.environ |= environment_of(resources)
    clear_all()
    return resources


def _drain(stack: LocalResources, handler: Handler, meter: CallMeter, limit: int) -> tuple[int, float]:
    """Poll until `limit` messages are done or the queue is empty; returns (done, seconds in the handler)."""
    spent = 0.0

    def timed(event: dict[str, Any], context: Any) -> Any:
        nonlocal spent
        meter.phase = "worker"
        started = time.perf_counter()
        try:
            return handler(event, context)
        finally:
            spent += time.perf_counter() - started
            meter.phase = "poll"

    done = 0
    meter.phase = "poll"
    while done < limit:
        polled = poll_once(stack.queue_url, stack.queue_arn, timed, wait_seconds=0)
        if polled.received == 0:
            break
        done += polled.received - polled.failed
    return done, spent


def run(design: Design, files: Files, endpoint: str, meter: CallMeter, worker_rows: int) -> RunResult:
    """Ingest the file, then let the worker take `worker_rows` messages off the queue (in batches of
    WORKER_BATCH_SIZE, as the event source mapping delivers them); every request has the meter's delay. Ours then
    ingests the same list saved again, and a file whose every row has its own large body."""
    content = files.content
    stack = fresh_stack(endpoint)
    meter.reset()
    meter.phase = "ingest"
    started = time.perf_counter()
    accepted = design.ingest(content, stack)
    result = RunResult(accepted, PhaseResult.of(time.perf_counter() - started, meter.of("ingest")))
    result.delivered, spent = _drain(stack, design.handler(stack), meter, worker_rows)
    result.worker = PhaseResult.of(spent, meter.of("worker"))
    result.poll_requests = dict(meter.of("poll").requests)
    meter.phase = "check"
    result.sent_rows_in_table = _sent_rows(stack.table_name, batch_id_for(content))
    if design is OURS:
        meter.phase = "ingest_sent_before"
        started = time.perf_counter()
        result.already_accepted = _ours_ingest_sent_before(content, stack)
        result.ingest_sent_before = PhaseResult.of(time.perf_counter() - started, meter.of("ingest_sent_before"))
        meter.phase = "ingest_own_bodies"
        started = time.perf_counter()
        result.own_bodies_accepted = design.ingest(files.own_bodies, stack)
        result.ingest_own_bodies = PhaseResult.of(time.perf_counter() - started, meter.of("ingest_own_bodies"))
        meter.phase = "-"
    return result


def _sent_rows(table: str, batch_id: str) -> int:
    """SENT rows of the batch, read with plain Scans (a check, outside every measured phase)."""
    pages = client("dynamodb").get_paginator("scan").paginate(TableName=table)
    return sum(
        1
        for page in pages
        for item in page["Items"]
        if item.get("batchId", {}).get("S") == batch_id and item.get("status", {}).get("S") == "SENT"
    )


def run_ingest_without_emulator(design: Design, content: bytes, meter: CallMeter) -> RunResult:
    """The same ingest against an AWS that answers at once: only the meter's delay remains."""
    stack = LocalResources(
        table_name="bench-table",
        queue_url="https://zero-cost.invalid/queue",
        queue_arn="arn:aws:sqs:us-east-1:123456789012:queue",
        dlq_url="",
        sender_address="",
        upload_bucket="",
    )
    meter.reset()
    with zero_cost_aws():
        clear_client_cache()
        meter.phase = "ingest"
        started = time.perf_counter()
        accepted = design.ingest(content, stack)
        seconds = time.perf_counter() - started
        meter.phase = "-"
    clear_client_cache()
    return RunResult(accepted, PhaseResult.of(seconds, meter.of("ingest")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_020, help="data rows in the file (1 in 50 is refused)")
    parser.add_argument("--worker-rows", type=int, default=300, help="messages the worker takes (timed)")
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--cross-check", action="store_true", help="also run the naive ingest without emulator")
    args = parser.parse_args()
    meter = CallMeter(latency=args.latency_ms / 1000, delayed=DELAYED_PHASES)
    meter.install()
    out: dict[str, Any] = {
        "rows": args.rows,
        "worker_rows": args.worker_rows,
        "latency_ms": args.latency_ms,
        "own_body_bytes": OWN_BODY_BYTES,
    }
    files = Files(campaign_csv(args.rows, "pipeline"), campaign_csv(args.rows, "bodies", OWN_BODY_BYTES))
    content = files.content
    # Metrics (EMF) go to stdout, as in Lambda; this process's stdout carries the JSON answer only.
    with emulator() as endpoint, open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        for design in (OURS, NAIVE):
            out[design.name] = asdict(run(design, files, endpoint, meter, args.worker_rows))
        out["ours_ingest_without_emulator"] = asdict(run_ingest_without_emulator(OURS, content, meter))
        if args.cross_check:
            out["naive_ingest_without_emulator"] = asdict(run_ingest_without_emulator(NAIVE, content, meter))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
