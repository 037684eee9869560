"""The streaming-ingest Lambda, locally: S3 notifications from a watcher, continuations in-process.

In AWS, S3 invokes the function for each new object and a long file continues in an asynchronous
self-invocation. Here one thread does both: it turns new objects into the same S3 events, and runs
continuations from a queue, calling the real handler each time.
"""

import logging
import queue
import time
from typing import Any

from campaign.aws.continuation import continuation_event
from campaign.limits import STREAM_INGEST_TIMEOUT_SECONDS
from scripts.local.s3_events import UploadWatcher
from scripts.local.sqs_poller import LocalLambdaContext

_log = logging.getLogger(__name__)
_POLL_SECONDS = 1.0


class QueuedContinuations:
    def __init__(self) -> None:
        self.pending: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()

    def continue_later(self, batch_id: str) -> None:
        self.pending.put(continuation_event(batch_id))


def watch_uploads(bucket: str, *, stop_after: float | None = None) -> None:
    from worker import s3_ingest  # imported after the environment is set, as Lambda would

    continuations = QueuedContinuations()
    s3_ingest.use_continuation(continuations)
    watcher = UploadWatcher(bucket)
    deadline = None if stop_after is None else time.monotonic() + stop_after
    while deadline is None or time.monotonic() < deadline:
        events = watcher.new_events()
        while not continuations.pending.empty():
            events.append(continuations.pending.get())
        for event in events:
            context = LocalLambdaContext(
                function_name="campaign-stream-ingest-local", remaining_ms=STREAM_INGEST_TIMEOUT_SECONDS * 1000
            )
            try:
                s3_ingest.handler(event, context)
            except Exception:  # as Lambda would: log, and let a re-put of the object retry it
                _log.exception("stream ingest failed")
        if not events:
            time.sleep(_POLL_SECONDS)
