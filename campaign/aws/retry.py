"""Backoff for the partial failures that botocore's retries do not cover (UnprocessedItems, Failed)."""

import random
import time

from campaign.limits import PARTIAL_RETRY_ATTEMPTS, PARTIAL_RETRY_BASE_SECONDS


def backoff(attempt: int) -> None:
    """Full-jitter exponential backoff: spreads retries of many writers instead of syncing them."""
    cap = PARTIAL_RETRY_BASE_SECONDS * (2**attempt)
    time.sleep(random.uniform(0, cap))


def attempts() -> range:
    return range(PARTIAL_RETRY_ATTEMPTS)
