"""One worker instance of the pace benchmark (scripts/bench/pace.py starts one to four of these).

Each is a process of its own, as each Lambda instance is: it polls the send queue the way the event
source mapping does (receive a batch of WORKER_BATCH_SIZE, invoke, delete what succeeded) and invokes
the handler with a context whose remaining time counts down from the worker's timeout, as Lambda's.
As with the mapping, polling runs beside the function, not in it: a poller thread keeps the next
batch received while the handler works on the current one, and a deleter thread deletes a finished
batch's messages while the next is invoked (the mapping's pollers are AWS's, outside the instance).

Protocol with the bench, over stdin and a directory: once its clients are built the instance writes
`ready-<index>`; it starts polling when it reads `go` on stdin and stops at `stop` (or end of input, or
its deadline), then writes `result-<index>.json`. Its stdout is the Lambda's log (Powertools' logs and
metrics), which the bench discards.

Every DynamoDB and SQS request, the polling's included, waits the simulated network latency first
(CallMeter); SES requests do not: the simulated SES (scripts/bench/ses_server.py) has its own.
"""

import argparse
import contextlib
import fcntl
import json
import os
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from campaign.aws.clients import client, single_attempt_client
from campaign.config import worker_settings
from campaign.limits import SQS_RECEIVE_MAX, WORKER_TIMEOUT_SECONDS
from scripts.bench.calls import CallMeter
from scripts.local.sqs_poller import LocalLambdaContext, receive, sqs_event

SES_SERVICE = "sesv2"
# An empty receive waits this long before the next: Lambda's mapping long-polls, which costs AWS
# nothing, but every receive costs the emulator a walk over the queue, CPU the workers then lack.
IDLE_SLEEP_SECONDS = 0.5
# The mapping's own requests (receiving and deleting), counted apart from the function's.
MAPPING_OPERATIONS = ("ReceiveMessage", "DeleteMessageBatch")


@dataclass
class PaceMeter(CallMeter):
    """CallMeter, except that SES requests get no added latency and their time is kept apart from the
    emulator's (it is the simulated SES's)."""

    ses_seconds: float = 0.0
    ses_requests: int = 0

    def _before_call(self, **kwargs: Any) -> None:
        if _service(kwargs) != SES_SERVICE:
            super()._before_call(**kwargs)

    def _before_send(self, event_name: str, **kwargs: Any) -> None:
        super()._before_send(event_name=event_name, **kwargs)
        self._local.ses = _service({"event_name": event_name}) == SES_SERVICE

    def _before_parse(self, **kwargs: Any) -> None:
        if not getattr(self._local, "ses", False):
            super()._before_parse(**kwargs)
            return
        self._local.ses = False
        sent_at = getattr(self._local, "sent_at", None)
        self._local.sent_at = None
        if sent_at is not None:
            with self._lock:
                self.ses_seconds += time.perf_counter() - sent_at
                self.ses_requests += 1


def _service(kwargs: dict[str, Any]) -> str:
    parts = str(kwargs.get("event_name", "")).split(".")
    return parts[1] if len(parts) > 1 else ""


class CountdownContext(LocalLambdaContext):
    """Lambda's context: the remaining time counts down from the function's timeout."""

    def __init__(self, timeout_ms: int = WORKER_TIMEOUT_SECONDS * 1000) -> None:
        super().__init__(aws_request_id=str(uuid.uuid4()), remaining_ms=timeout_ms)
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]  # static in the stub only
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class InstanceResult:
    index: int
    design: str
    batches: int = 0
    received: int = 0
    failed: int = 0
    handler_raised: int = 0
    handler_seconds: float = 0.0
    # Wall time in the mapping's receives (those that returned messages) and deletes.
    receive_seconds: float = 0.0
    delete_seconds: float = 0.0
    delete_refused: int = 0
    # time.monotonic() of the go signal, of the first receive that returned messages, and of the end of
    # the last batch (its deletes included).
    go_at: float = 0.0
    first_batch_at: float | None = None
    last_done_at: float | None = None
    requests: dict[str, dict[str, int]] = field(default_factory=dict)
    emulator_seconds: dict[str, float] = field(default_factory=dict)
    ses_requests: int = 0
    ses_seconds: float = 0.0
    # This process's CPU time from go to the end.
    cpu_seconds: float = 0.0


def _handler(design: str) -> Callable[[dict[str, Any], Any], Any]:
    if design == "ours":
        import worker.handler

        return worker.handler.handler
    from scripts.bench.naive import NaiveWorker

    settings = worker_settings()
    assert settings.sender_address is not None
    return NaiveWorker(settings.table_name, settings.sender_address).handler


def _warm() -> None:
    """Build the clients before the clock starts (a Lambda instance's cold start is not the rate)."""
    client("sqs")
    client("dynamodb")
    client(SES_SERVICE)
    single_attempt_client(SES_SERVICE)


def _listen(go: threading.Event, stop: threading.Event) -> None:
    for line in sys.stdin:
        if line.strip() == "go":
            go.set()
        elif line.strip() == "stop":
            break
    go.set()
    stop.set()


def _delete(queue_url: str, done: list[dict[str, Any]], lock: Path | None) -> int:
    """Delete what succeeded; returns the deletes SQS refused. Against moto's server (`lock` given) the
    instances take turns (a file lock): moto deletes a message by rebuilding the queue's list of
    messages without a lock, so two deletes at once can put back a message the other just deleted (it
    then shows as in flight until its visibility timeout). SQS has no such race, nor has the stand-in
    (scripts/bench/aws_standin.py answers each request under one lock): no lock then."""
    with contextlib.ExitStack() as stack:
        if lock is not None:
            fcntl.flock(stack.enter_context(lock.open("a")), fcntl.LOCK_EX)
        return _delete_batches(queue_url, done)


def _delete_batches(queue_url: str, done: list[dict[str, Any]]) -> int:
    refused = 0
    for start in range(0, len(done), SQS_RECEIVE_MAX):
        reply = client("sqs").delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(done[start : start + SQS_RECEIVE_MAX])
            ],
        )
        refused += len(reply.get("Failed", []))
    return refused


def _poll(
    queue_url: str,
    batches: "queue.Queue[list[dict[str, Any]]]",
    stop: threading.Event,
    deadline: float,
    result: InstanceResult,
) -> None:
    """The mapping's poller: receive the next batch while the handler works on the current one."""
    while not stop.is_set() and time.monotonic() < deadline:
        receiving = time.perf_counter()
        messages = receive(queue_url, wait_seconds=0)
        if not messages:
            time.sleep(IDLE_SLEEP_SECONDS)
            continue
        result.receive_seconds += time.perf_counter() - receiving
        if result.first_batch_at is None:
            result.first_batch_at = time.monotonic()
        while not stop.is_set():
            try:
                batches.put(messages, timeout=0.1)
                break
            except queue.Full:
                continue


def _delete_finished(
    queue_url: str, finished: "queue.Queue[list[dict[str, Any]] | None]", lock: Path | None, result: InstanceResult
) -> None:
    """The mapping's deletes of each finished batch's succeeded messages, beside the next invocation."""
    while (done := finished.get()) is not None:
        deleting = time.perf_counter()
        result.delete_refused += _delete(queue_url, done, lock)
        result.delete_seconds += time.perf_counter() - deleting
        result.last_done_at = time.monotonic()


def run(
    index: int, design: str, meter: PaceMeter, out: Path, deadline_seconds: float, delete_lock: bool = False
) -> InstanceResult:
    handler = _handler(design)
    settings = worker_settings()
    queue_url = settings.queue_url
    queue_arn = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    _warm()
    go, stop = threading.Event(), threading.Event()
    threading.Thread(target=_listen, args=(go, stop), daemon=True).start()
    (out / f"ready-{index}").write_text("ready")
    go.wait()
    result = InstanceResult(index, design, go_at=time.monotonic())
    cpu_at_go = time.process_time()
    meter.reset()
    meter.phase = "worker"  # every request is delayed; the mapping's are told apart by operation below
    deadline = result.go_at + deadline_seconds
    batches: queue.Queue[list[dict[str, Any]]] = queue.Queue(maxsize=1)
    finished: queue.Queue[list[dict[str, Any]] | None] = queue.Queue()
    lock = out / "lock" if delete_lock else None
    poller = threading.Thread(target=_poll, args=(queue_url, batches, stop, deadline, result), daemon=True)
    deleter = threading.Thread(target=_delete_finished, args=(queue_url, finished, lock, result), daemon=True)
    poller.start()
    deleter.start()
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            messages = batches.get(timeout=0.1)
        except queue.Empty:
            continue
        started = time.perf_counter()
        try:
            response = handler(sqs_event(messages, queue_arn), CountdownContext())
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        except Exception:  # as on Lambda: a handler that raises fails the whole batch
            result.handler_raised += 1
            failed = {m["MessageId"] for m in messages}
        result.handler_seconds += time.perf_counter() - started
        finished.put([m for m in messages if m["MessageId"] not in failed])
        result.batches += 1
        result.received += len(messages)
        result.failed += len(failed)
    stop.set()
    finished.put(None)
    deleter.join()
    poller.join()
    meter.phase = "-"
    stats = meter.of("worker")
    result.requests["poll"] = {op: n for op, n in stats.requests.items() if op.endswith(MAPPING_OPERATIONS)}
    result.requests["worker"] = {op: n for op, n in stats.requests.items() if not op.endswith(MAPPING_OPERATIONS)}
    result.emulator_seconds["worker"] = stats.emulator_seconds
    result.ses_requests, result.ses_seconds = meter.ses_requests, meter.ses_seconds
    result.cpu_seconds = time.process_time() - cpu_at_go
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--design", choices=("ours", "naive"), required=True)
    parser.add_argument("--out", type=Path, required=True, help="directory for the ready and result files")
    parser.add_argument("--latency-ms", type=float, default=10.0, help="added to each DynamoDB and SQS request")
    parser.add_argument("--deadline-seconds", type=float, default=300.0, help="stop polling after this long")
    parser.add_argument("--delete-lock", action="store_true", help="instances take turns to delete (moto's server)")
    args = parser.parse_args()
    meter = PaceMeter(latency=args.latency_ms / 1000, delayed=frozenset({"poll", "worker"}))
    meter.install()  # before any client is built: the hooks go on the default session
    result = run(args.index, args.design, meter, args.out, args.deadline_seconds, args.delete_lock)
    path = args.out / f"result-{args.index}.json"
    path.with_suffix(".tmp").write_text(json.dumps(result.__dict__))
    os.replace(path.with_suffix(".tmp"), path)


if __name__ == "__main__":
    main()
