"""boto3 clients, built once per container and lazily (after moto starts, in tests).

The endpoint comes from boto3's own AWS_ENDPOINT_URL support, so the local stack needs no code here.
"""

from typing import Any

import boto3
from botocore.config import Config

from campaign.caches import per_container

# Standard retry mode backs off on throttling; our own loops handle partial batch failures on top.
_RETRYING = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=3, read_timeout=10)
# For calls that must never be repeated blindly (SES has no idempotency token).
_SINGLE_ATTEMPT = Config(retries={"total_max_attempts": 1}, connect_timeout=3, read_timeout=10)


@per_container
def client(service: str) -> Any:
    return boto3.client(service, config=_RETRYING)


@per_container
def single_attempt_client(service: str) -> Any:
    return boto3.client(service, config=_SINGLE_ATTEMPT)


def clear_client_cache() -> None:
    client.cache_clear()
    single_attempt_client.cache_clear()
