"""The send queue: SendMessageBatch in groups of 10, retrying the entries SQS reports as Failed."""

import json
from collections.abc import Sequence
from typing import NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from campaign.aws.clients import client
from campaign.aws.retry import attempts, backoff, is_throttling
from campaign.limits import ENQUEUE_DELAY_SECONDS, SQS_SEND_BATCH_MAX


class SendJob(NamedTuple):
    """The message body: ids only. The worker's claim returns the row, so no extra read is needed.

    `prior_receives` counts the deliveries of earlier copies of this message that tried to send it: a
    message the worker defers (no send token yet) goes back on the queue as a new message, whose own
    receive count starts again at one, and this carries the count over, so that deferrals neither
    bring a message nearer the DLQ nor give it more attempts than the queue allows."""

    send_id: str
    batch_id: str
    prior_receives: int = 0

    def to_body(self) -> str:
        body: dict[str, object] = {"sendId": self.send_id, "batchId": self.batch_id}
        if self.prior_receives:
            body["priorReceives"] = self.prior_receives
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def from_body(cls, body: str) -> "SendJob":
        data = json.loads(body)
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("sendId", "batchId")):
            raise ValueError("message body lacks sendId/batchId strings")
        prior = data.get("priorReceives", 0)
        if not isinstance(prior, int) or isinstance(prior, bool) or prior < 0:
            raise ValueError("priorReceives must be a whole number")
        return cls(send_id=data["sendId"], batch_id=data["batchId"], prior_receives=prior)


class SendQueue:
    def __init__(self, queue_url: str, delay_seconds: int = ENQUEUE_DELAY_SECONDS) -> None:
        self._url = queue_url
        self._delay = delay_seconds
        self._sqs = client("sqs")

    def enqueue(self, jobs: Sequence[SendJob], delay_seconds: int | None = None) -> dict[str, str]:
        """Send every job (hidden for `delay_seconds`, or the queue's enqueue delay); returns
        {sendId: reason} for those SQS still refused after retries."""
        delay = self._delay if delay_seconds is None else delay_seconds
        failed: dict[str, str] = {}
        for start in range(0, len(jobs), SQS_SEND_BATCH_MAX):
            failed |= self._send_group(jobs[start : start + SQS_SEND_BATCH_MAX], delay)
        return failed

    def _send_group(self, jobs: Sequence[SendJob], delay: int) -> dict[str, str]:
        remaining = {job.send_id: job for job in jobs}
        refused: dict[str, str] = {}  # sender faults: retrying the same entry cannot help
        reasons: dict[str, str] = {}
        for attempt in attempts():
            entries = [
                {"Id": send_id, "MessageBody": job.to_body(), "DelaySeconds": delay}
                for send_id, job in remaining.items()
            ]
            try:
                response = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
            except ClientError as exc:
                if is_throttling(exc) and attempt < len(attempts()) - 1:
                    backoff(attempt)  # SQS refused the whole call before doing anything
                    continue
                return refused | dict.fromkeys(remaining, f"SendMessageBatch failed: {exc}")
            except BotoCoreError as exc:
                # botocore already retried; the outcome is unknown, so report every entry as not enqueued
                # (a row left PENDING is still claimable if its message did arrive).
                return refused | dict.fromkeys(remaining, f"SendMessageBatch failed: {exc}")
            retry: dict[str, SendJob] = {}
            for entry in response.get("Failed", []):
                reason = f"{entry.get('Code', 'Failed')}: {entry.get('Message', '')}".rstrip(": ")
                if entry.get("SenderFault", False):
                    refused[entry["Id"]] = reason
                else:
                    retry[entry["Id"]] = remaining[entry["Id"]]
                    reasons[entry["Id"]] = reason
            remaining = retry
            if not remaining:
                return refused
            backoff(attempt)
        return refused | {send_id: reasons[send_id] for send_id in remaining}
