"""What Lambda's SQS event source mapping does, for the emulator (moto's ignores partial batch
responses): receive up to a batch (WORKER_BATCH_SIZE, in rounds of ten, as SQS hands them out),
invoke the handler with a real SQS event, delete what succeeded."""

import logging
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign.aws.clients import client
from campaign.limits import SQS_RECEIVE_MAX, WORKER_BATCH_SIZE

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], LambdaContext], Any]


class LocalLambdaContext(LambdaContext):
    """A Lambda context for local invocations, with the attributes Powertools reads."""

    def __init__(
        self,
        aws_request_id: str = "local-request",
        function_name: str = "campaign-worker-local",
        remaining_ms: int = 30_000,
    ) -> None:
        self._remaining_ms = remaining_ms
        self._function_name = function_name
        self._function_version = "$LATEST"
        self._memory_limit_in_mb = 256
        self._invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self._aws_request_id = aws_request_id
        self._log_group_name = f"/aws/lambda/{function_name}"
        self._log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]  # static in the stub only
        return self._remaining_ms


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    region = queue_arn.split(":")[3]
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class PollResult(NamedTuple):
    received: int
    failed: int


def receive(queue_url: str, wait_seconds: int = 1) -> list[dict[str, Any]]:
    """Up to a batch of messages: rounds of ReceiveMessage until the batch is full or a round comes back
    short (only the first round waits for messages to arrive)."""
    messages: list[dict[str, Any]] = []
    while len(messages) < WORKER_BATCH_SIZE:
        wanted = min(SQS_RECEIVE_MAX, WORKER_BATCH_SIZE - len(messages))
        response = client("sqs").receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=wanted,
            WaitTimeSeconds=0 if messages else wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        received: list[dict[str, Any]] = response.get("Messages", [])
        messages += received
        if len(received) < wanted:
            break
    return messages


def poll_once(queue_url: str, queue_arn: str, handler: Handler, wait_seconds: int = 1) -> PollResult:
    """One receive → invoke → delete cycle; failed messages stay for SQS to redeliver (or dead-letter)."""
    messages = receive(queue_url, wait_seconds)
    if not messages:
        return PollResult(0, 0)
    try:
        response = handler(sqs_event(messages, queue_arn), LocalLambdaContext(aws_request_id=str(uuid.uuid4())))
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
    except Exception:  # as on Lambda: a handler that raises fails the whole batch
        logger.exception("worker handler raised; every message of the batch will be redelivered")
        failed = {m["MessageId"] for m in messages}
    done = [m for m in messages if m["MessageId"] not in failed]
    for start in range(0, len(done), SQS_RECEIVE_MAX):  # DeleteMessageBatch takes ten entries at most
        client("sqs").delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(done[start : start + SQS_RECEIVE_MAX])
            ],
        )
    return PollResult(len(messages), len(failed))
