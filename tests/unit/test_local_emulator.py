"""The local emulator's SQS speed-up (scripts/local/emulator.py) under concurrent calls.

moto's server handles calls in threads, and the API's ingest sends to one queue from several at once
while the worker receives from it. The speed-up once swapped the queue's attribute list on the shared
queue object, so overlapping calls deleted each other's swap: moto answered 500 ("'Queue' object has
no attribute 'BASE_ATTRIBUTES'"), after ReceiveMessage had already hidden the messages it picked.
"""

import threading
from collections.abc import Callable

import pytest
from moto.sqs import models as sqs_models

from scripts.local import emulator

COUNTERS = set(emulator._COUNTERS)
ACCOUNT_ID = "123456789012"  # moto's default account
THREADS = 8
CALLS = 300


@pytest.fixture
def sped_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """The speed-up, installed for this test only (the other tests use plain moto)."""
    monkeypatch.setattr(sqs_models.Queue, "BASE_ATTRIBUTES", sqs_models.Queue.BASE_ATTRIBUTES)
    for name in ("send_message", "send_message_batch", "receive_message"):
        monkeypatch.setattr(sqs_models.SQSBackend, name, getattr(sqs_models.SQSBackend, name))
    emulator.install_sqs_speedup()


def test_concurrent_calls_each_see_their_own_attribute_list(aws: None, sped_up: None) -> None:
    # Given one queue read by threads inside a sped-up call and threads outside one (GetQueueAttributes)
    queue = sqs_models.sqs_backends[ACCOUNT_ID]["us-east-1"].create_queue("sends")
    failures: list[str] = []

    def inside() -> None:
        for _ in range(CALLS):
            names = set(emulator._without_counters(lambda: queue.attributes)())
            if names & COUNTERS:
                failures.append("a sped-up call computed the counters")

    def outside() -> None:
        for _ in range(CALLS):
            if not set(queue.attributes) >= COUNTERS:
                failures.append("a plain read lost the counters")

    def guarded(body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except Exception as exc:  # what moto turns into a 500
                failures.append(f"{type(exc).__name__}: {exc}")

        return run

    threads = [threading.Thread(target=guarded(inside if i % 2 else outside)) for i in range(THREADS)]

    # When they all run at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then every call saw the list meant for it, and none failed
    assert failures == []
