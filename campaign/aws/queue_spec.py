"""Queue settings shared by the local stack and checked against terraform/queue.tf."""

import json

from campaign.limits import DEFAULT_MAX_RECEIVE_COUNT, WORKER_TIMEOUT_SECONDS

# AWS: the visibility timeout should be at least six times the function timeout.
VISIBILITY_TIMEOUT_SECONDS = 6 * WORKER_TIMEOUT_SECONDS
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600


def queue_attributes(dlq_arn: str, max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT) -> dict[str, str]:
    return {
        "VisibilityTimeout": str(VISIBILITY_TIMEOUT_SECONDS),
        "MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS),
        "SqsManagedSseEnabled": "true",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}),
    }


def dlq_attributes() -> dict[str, str]:
    return {"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS), "SqsManagedSseEnabled": "true"}
