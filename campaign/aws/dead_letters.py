"""The dead-letter queue, read by the operator's re-drive (never by a Lambda)."""

from typing import Any, NamedTuple

from campaign.aws.clients import client
from campaign.limits import SQS_SEND_BATCH_MAX


class DeadLetter(NamedTuple):
    body: str
    receipt_handle: str


class DeadLetterQueue:
    def __init__(self, queue_url: str) -> None:
        self._url = queue_url
        self._sqs = client("sqs")

    def receive(self, visibility_seconds: int = 60) -> list[DeadLetter]:
        response = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=SQS_SEND_BATCH_MAX,
            WaitTimeSeconds=0,
            VisibilityTimeout=visibility_seconds,
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return [DeadLetter(body=m["Body"], receipt_handle=m["ReceiptHandle"]) for m in messages]

    def delete(self, letters: list[DeadLetter]) -> None:
        if letters:
            self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(i), "ReceiptHandle": letter.receipt_handle} for i, letter in enumerate(letters)],
            )
