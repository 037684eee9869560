"""Fixtures for the emulated AWS: every test gets a fresh in-process moto with the real resources."""

import io
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws

# Powertools reads these when the handler modules are imported (as Lambda sets them before import).
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "campaign-test")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "CampaignTest")

import worker.count_changes
import worker.handler
from campaign.aws.batch_counts import BatchCounts
from campaign.caches import clear_all
from campaign.domain.models import StatusCounts
from campaign.observability import logger
from scripts.local.emulator import (
    install_dynamodb_item_lock,
    install_ses_account,
    install_transaction_checks_first,
    install_transaction_tokens,
)
from scripts.local.provision import LocalResources, environment_of, provision
from scripts.local.sqs_poller import PollResult, poll_once
from scripts.local.stream_poller import StreamPoller
from tests.support import TEST_API_KEY
from tests.support.hypothesis_profiles import register_and_load
from tests.support.seed import RETENTION

# Before any test module is imported (their @settings copy the loaded profile): derandomized unless
# HYPOTHESIS_PROFILE says otherwise (`make fuzz`); tests/support/hypothesis_profiles.py.
register_and_load()


def reset_process_caches() -> None:
    """Clients, settings and gateways are cached per container; each test is a new container."""
    clear_all()


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """The Powertools handler keeps the stream it was built with; point it at a buffer for the test."""
    buffer = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "campaign-test",
        "POWERTOOLS_METRICS_NAMESPACE": "CampaignTest",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def aws() -> Iterator[None]:
    install_dynamodb_item_lock()  # DynamoDB's per-item atomicity, which in-process moto lacks
    install_transaction_tokens()  # and TransactWriteItems' idempotency tokens
    install_transaction_checks_first()  # and a cancelled transaction that leaves the stream alone
    install_ses_account()  # and SESv2 GetAccount, which moto lacks
    with mock_aws():
        reset_process_caches()
        yield
    reset_process_caches()


@pytest.fixture
def stack(aws: None, monkeypatch: pytest.MonkeyPatch) -> LocalResources:
    """The table, queues and SES identity, created as the local stack and Terraform create them."""
    resources = provision("test")
    for name, value in environment_of(resources).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ENQUEUE_DELAY_SECONDS", "0")
    monkeypatch.setenv("SEND_MODE", "dry-run")
    monkeypatch.setenv("API_KEY", TEST_API_KEY)
    reset_process_caches()
    return resources


@pytest.fixture
def count_changes(stack: LocalResources) -> Any:
    """Run the real stream consumer on the table's stream until it is read to its end, like the
    event source mapping (counts are only as fresh as the last call)."""
    poller = StreamPoller(stack.table_name)

    def _count() -> None:
        poller.drain(worker.count_changes.handler)

    return _count


@pytest.fixture
def counts_of(stack: LocalResources, count_changes: Any) -> Callable[[str], StatusCounts]:
    """A batch's status counts once the stream consumer has caught up (zeros for a batch without any)."""

    def _counts(batch_id: str) -> StatusCounts:
        count_changes()
        listing = BatchCounts(stack.table_name, RETENTION).get(batch_id)
        return listing.counts if listing is not None else StatusCounts()

    return _counts


@pytest.fixture
def drain(stack: LocalResources, count_changes: Any) -> Any:
    """Run the real worker handler on the emulated queue until it is empty, like the event source,
    then the stream consumer, so that batch counts are up to date."""

    def _drain(max_rounds: int = 50) -> list[PollResult]:
        results = []
        for _ in range(max_rounds):
            result = poll_once(stack.queue_url, stack.queue_arn, worker.handler.handler, wait_seconds=0)
            if result.received == 0:
                break
            results.append(result)
        count_changes()
        return results

    return _drain
