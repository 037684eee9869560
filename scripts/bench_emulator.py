"""The emulator the benchmark runs against: `campaign.local.emulator` (moto's server, the per-item
DynamoDB lock, the SQS speed-up), with the speed-up made safe for concurrent requests.

The speed-up skips three queue counters by setting `BASE_ATTRIBUTES` on the shared Queue object for
the length of one call and deleting it afterwards. Two concurrent SendMessageBatch calls on one queue
(the ingest runs 8 steps at once) interleave those set/delete pairs; the second delete fails with
AttributeError after part of the batch is stored, moto answers 500, botocore retries the whole batch,
and the bench would count an extra request and the worker see duplicate messages. Holding one lock
around the attribute computation (skipped or not) serializes exactly that section.

    python -m scripts.bench_emulator --port 4567
"""

import argparse
import logging
import signal
import threading
from typing import Any

from moto.server import ThreadedMotoServer
from moto.sqs import models as sqs_models

from campaign.local.emulator import install_dynamodb_item_lock, install_sqs_speedup

_ATTRIBUTES_LOCK = threading.RLock()


def install_locked_sqs_speedup() -> None:
    install_sqs_speedup()
    unlocked = sqs_models.Queue.__dict__["attributes"].fget

    def attributes(self: Any) -> Any:
        with _ATTRIBUTES_LOCK:
            return unlocked(self)

    sqs_models.Queue.attributes = property(attributes)  # type: ignore[method-assign,assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    install_dynamodb_item_lock()
    install_locked_sqs_speedup()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
