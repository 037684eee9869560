"""botocore event hooks for the benchmark: count every AWS request, time the emulator, add latency.

The hooks go on boto3's default session, so every client created afterwards carries them (the
project's cached clients must be rebuilt after `install`). For each HTTP attempt:

* `before-call` (first): the simulated network delay, when the current phase asks for one;
* `before-send` (first): the request is counted under the current phase, service and operation, and
  the clock starts;
* `before-parse` (first): the clock stops. Between the two the request is in the emulator (moto's
  server on loopback: its work, the loopback round trip and the HTTP framing on both sides). That
  time is added to the phase's emulator time.
* `after-call`: the items each read reply read and returned are added up per phase: ScannedCount
  and Count of Query and Scan, the items a GetItem or BatchGetItem found (and every reply is kept,
  when asked, to compare two emulators' answers).

Phases are a plain attribute rather than a context variable because the ingest's worker threads
would not inherit a context variable.
"""

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

_IGNORED = "-"


@dataclass
class PhaseStats:
    requests: Counter[str] = field(default_factory=Counter)
    emulator_seconds: float = 0.0
    scanned_count: int = 0
    count: int = 0
    replies: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.requests.values())


@dataclass
class CallMeter:
    """Counts and times AWS requests per phase; `delayed` phases get `latency` seconds per request."""

    latency: float = 0.0
    delayed: frozenset[str] = frozenset()
    keep_replies: bool = False
    phase: str = _IGNORED
    stats: dict[str, PhaseStats] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)

    def of(self, phase: str) -> PhaseStats:
        with self._lock:
            return self.stats.setdefault(phase, PhaseStats())

    def reset(self) -> None:
        with self._lock:
            self.stats.clear()

    def install(self) -> None:
        session = boto3._get_default_session()
        events = session.events
        events.register_first("before-call", self._before_call, unique_id="bench-latency")
        events.register_first("before-send", self._before_send, unique_id="bench-send")
        events.register_first("before-parse", self._before_parse, unique_id="bench-parse")
        events.register_last("after-call", self._after_call, unique_id="bench-reads")

    def _before_call(self, **_: Any) -> None:
        if self.latency and self.phase in self.delayed:
            time.sleep(self.latency)

    def _before_send(self, event_name: str, **_: Any) -> None:
        _event, service, operation = event_name.split(".", 2)
        stats = self.of(self.phase)
        with self._lock:
            stats.requests[f"{service}:{operation}"] += 1
        self._local.sent_at = time.perf_counter()

    def _before_parse(self, **_: Any) -> None:
        sent_at = getattr(self._local, "sent_at", None)
        if sent_at is None:
            return
        self._local.sent_at = None
        elapsed = time.perf_counter() - sent_at
        stats = self.of(self.phase)
        with self._lock:
            stats.emulator_seconds += elapsed

    def _after_call(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        stats = self.of(self.phase)
        if self.keep_replies:
            reply = {key: value for key, value in parsed.items() if key != "ResponseMetadata"}
            with self._lock:
                stats.replies.append((model.name, reply))
        read = _items_read(model.name, parsed)
        if read is None:
            return
        with self._lock:
            stats.scanned_count += read[0]
            stats.count += read[1]


def _items_read(operation: str, parsed: dict[str, Any]) -> tuple[int, int] | None:
    """(items DynamoDB read, items it returned) of a read reply; None for other replies."""
    if operation in ("Query", "Scan"):
        return int(parsed.get("ScannedCount", 0)), int(parsed.get("Count", 0))
    if operation == "GetItem":
        found = 1 if "Item" in parsed else 0
        return found, found
    if operation == "BatchGetItem":
        found = sum(len(items) for items in parsed.get("Responses", {}).values())
        return found, found
    return None


class _Body(BytesIO):
    """The raw HTTP body botocore reads a reply from."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


def _reply(operation: str, request: AWSPreparedRequest) -> dict[str, Any]:
    if operation in ("PutItem", "UpdateItem", "TransactWriteItems"):
        return {}
    if operation == "BatchWriteItem":
        return {"UnprocessedItems": {}}
    if operation == "BatchGetItem":  # the suppression list: nobody is suppressed
        return {"Responses": {}, "UnprocessedKeys": {}}
    if operation == "SendMessage":
        return {"MessageId": str(uuid.uuid4()), "MD5OfMessageBody": "0" * 32}
    if operation == "SendMessageBatch":
        entries = json.loads(request.body or b"{}")["Entries"]
        ok = [{"Id": e["Id"], "MessageId": str(uuid.uuid4()), "MD5OfMessageBody": "0" * 32} for e in entries]
        return {"Successful": ok, "Failed": []}
    raise NotImplementedError(f"the zero-cost AWS does not answer {operation}")


def _answer(request: AWSPreparedRequest, event_name: str, **_: Any) -> AWSResponse:
    operation = event_name.rsplit(".", 1)[-1]
    body = json.dumps(_reply(operation, request)).encode()
    return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, _Body(body))


@contextmanager
def zero_cost_aws() -> Iterator[None]:
    """An AWS that answers the ingest's writes with success (and its reads with nothing) at once: no
    emulator, no state. With the meter's delay, each request then costs exactly the simulated network
    time. Clients must be created inside the block (the project's cache cleared before and after)."""
    events = boto3._get_default_session().events
    events.register_last("before-send", _answer, unique_id="bench-zero-cost")
    try:
        yield
    finally:
        events.unregister("before-send", _answer, unique_id="bench-zero-cost")
