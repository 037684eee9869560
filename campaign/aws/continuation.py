"""Continuing a long streaming ingest in a fresh invocation of the same Lambda function."""

import json
from typing import Protocol

from campaign.aws.clients import client

# The event a continuation receives; the handler accepts it beside S3 notifications.
CONTINUE_BATCH_FIELD = "continueBatch"


class Continuation(Protocol):
    def continue_later(self, batch_id: str) -> None: ...


def continuation_event(batch_id: str) -> dict[str, str]:
    return {CONTINUE_BATCH_FIELD: batch_id}


class LambdaContinuation:
    """An asynchronous self-invocation: Lambda queues it and retries it if it fails."""

    def __init__(self, function_name: str) -> None:
        self._function_name = function_name
        self._lambda = client("lambda")

    def continue_later(self, batch_id: str) -> None:
        self._lambda.invoke(
            FunctionName=self._function_name,
            InvocationType="Event",
            Payload=json.dumps(continuation_event(batch_id)).encode(),
        )
