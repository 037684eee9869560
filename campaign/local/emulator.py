"""The local AWS: moto's server on loopback, with one fidelity fix and one speed-up.

DynamoDB evaluates a conditional write atomically per item; moto evaluates the condition and applies
the write without a lock, so two threads can both pass `attribute_not_exists`. A lock around moto's
item writes restores DynamoDB's guarantee (tests install it too: the race tests rely on it).

moto recomputes three approximate message counters (walking every message) each time SendMessage,
SendMessageBatch or ReceiveMessage reads a queue's attributes, which makes ingest quadratic in queue
depth. Inside those three calls only, the counters are skipped; GetQueueAttributes still returns them,
and request counts and behaviour are unchanged. Tests use plain moto and never depend on this.
"""

import argparse
import contextvars
import functools
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.server import ThreadedMotoServer
from moto.sqs import models as sqs_models

_COUNTERS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
)
_skip_counters = contextvars.ContextVar("skip_counters", default=False)


_ALL_ATTRIBUTES: list[str] = list(sqs_models.Queue.BASE_ATTRIBUTES)
_WITHOUT_COUNTERS = [name for name in _ALL_ATTRIBUTES if name not in _COUNTERS]


def _base_attributes(_queue: Any) -> list[str]:
    # Chosen per call from the calling thread's context, never stored on the shared queue object:
    # the server handles concurrent calls on one queue in several threads.
    return _WITHOUT_COUNTERS if _skip_counters.get() else _ALL_ATTRIBUTES


def _without_counters(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = _skip_counters.set(True)
        try:
            return method(*args, **kwargs)
        finally:
            _skip_counters.reset(token)

    return wrapper


_ITEM_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_item_lock = threading.RLock()


def _serialized(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _item_lock:
            return method(*args, **kwargs)

    wrapper.__dict__["_serialized"] = True
    return wrapper


def install_dynamodb_item_lock() -> None:
    backend = dynamodb_models.DynamoDBBackend
    for name in _ITEM_WRITES:
        method = getattr(backend, name)
        if not getattr(method, "_serialized", False):
            setattr(backend, name, _serialized(method))


def install_sqs_speedup() -> None:
    sqs_models.Queue.BASE_ATTRIBUTES = property(_base_attributes)  # type: ignore[assignment]
    for name in ("send_message", "send_message_batch", "receive_message"):
        setattr(sqs_models.SQSBackend, name, _without_counters(getattr(sqs_models.SQSBackend, name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=4566)
    args = parser.parse_args()
    install_dynamodb_item_lock()
    install_sqs_speedup()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call drowns the banner
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
