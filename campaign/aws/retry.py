"""Backoff for the partial failures that botocore's retries do not cover (UnprocessedItems, Failed)."""

import random
import time

from botocore.exceptions import ClientError

from campaign.limits import PARTIAL_RETRY_ATTEMPTS, PARTIAL_RETRY_BASE_SECONDS


def backoff(attempt: int) -> None:
    """Full-jitter exponential backoff: spreads retries of many writers instead of syncing them."""
    cap = PARTIAL_RETRY_BASE_SECONDS * (2**attempt)
    time.sleep(random.uniform(0, cap))


# Capacity errors that mean "nothing was done, slow down": safe to retry the same request.
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "RequestThrottled",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    }
)


def is_throttling(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in THROTTLING_CODES


def attempts() -> range:
    return range(PARTIAL_RETRY_ATTEMPTS)
