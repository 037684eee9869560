"""The worker's partial batch response: which SQS records come back, and what the logs say of them."""

import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest

import campaign.services.send_batch
import worker.handler
from campaign.aws.send_pace import UnpacedSends
from campaign.aws.send_queue import SendJob
from campaign.config import clear_settings_cache
from campaign.observability import logger
from campaign.services.provider_chain import ProviderChain
from campaign.services.send_batch import BatchGateways
from campaign.services.send_email import Attempt, RetryLaterError, SendOutcome
from tests.support.log_lines import json_lines

Plan = dict[str, Exception]
UNREADABLE = "not json"


def _record(message_id: str, body: str | None = None) -> dict[str, Any]:
    """An SQS record as Lambda delivers it (only the fields the worker reads)."""
    return {
        "messageId": message_id,
        "body": body or f'{{"sendId":"send-{message_id}","batchId":"b"}}',
        "attributes": {"ApproximateReceiveCount": "1"},
    }


@pytest.fixture
def failures(monkeypatch: pytest.MonkeyPatch) -> Iterator[Plan]:
    """Each record's claim replaced: it logs (labelled with the record's ids, as the real one is),
    then raises what the test planned for that send, if anything, or finds the row already final.
    No AWS: the batch's gateways are never reached past the claim."""
    plan: Plan = {}

    def claim(job: SendJob, attempt: Attempt, **_: Any) -> SendOutcome:
        logger.info("claiming")
        planned = plan.get(job.send_id)
        if planned is not None:
            raise planned
        return SendOutcome.ALREADY_FINAL

    monkeypatch.setenv("TABLE_NAME", "campaign-test")
    monkeypatch.setenv("QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/campaign-test")
    clear_settings_cache()
    with ThreadPoolExecutor(max_workers=4) as pool:
        gateways = BatchGateways(
            rows=cast(Any, None),
            bodies=cast(Any, None),
            suppressions=cast(Any, None),
            sender=ProviderChain([]),
            pace=UnpacedSends(),
            queue=cast(Any, None),
            breakers=None,
            pool=pool,
        )
        monkeypatch.setattr(campaign.services.send_batch, "claim_send", claim)
        monkeypatch.setattr(worker.handler, "_gateways", lambda: gateways)
        yield plan
    clear_settings_cache()


def test_only_the_records_that_raised_come_back(failures: Plan) -> None:
    # Given a batch of three records, the second of which fails with a retryable error
    failures["send-m2"] = RetryLaterError("row not written yet")
    # When the worker processes the batch
    response = worker.handler.process_batch([_record("m1"), _record("m2"), _record("m3")])
    # Then only the second record is reported as failed, for SQS to deliver again
    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}]}


def test_a_wholly_failed_batch_is_reported_item_by_item_instead_of_raising(failures: Plan) -> None:
    # Given a batch whose every record fails: one unreadable body, one send that raises
    failures["send-m2"] = RuntimeError("boom")
    # When the worker processes the batch
    response = worker.handler.process_batch([_record("m1", UNREADABLE), _record("m2")])
    # Then it does not raise, and each record is reported as failed on its own
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}


def test_a_failed_record_is_logged_with_its_message_id_and_traceback(failures: Plan, logs: io.StringIO) -> None:
    # Given a record whose send fails with a retryable error
    failures["send-m1"] = RetryLaterError("row not written yet")
    # When the worker processes it
    worker.handler.process_batch([_record("m1")])
    # Then one warning line carries its message id, the exception's name and its traceback text
    (line,) = [d for d in json_lines(logs.getvalue()) if d.get("messageId") == "m1"]
    assert line["level"] == "WARNING"
    assert line["exception_name"] == "RetryLaterError"
    assert "row not written yet" in line["exception"]


def test_a_failed_records_ids_do_not_label_the_next_records_lines(failures: Plan, logs: io.StringIO) -> None:
    # Given a record that fails once its ids are known, then one whose body cannot be read
    failures["send-m1"] = RuntimeError("boom")
    # When the worker processes them with a third, good record
    worker.handler.process_batch([_record("m1"), _record("m2", UNREADABLE), _record("m3")])
    # Then the unreadable record's line carries no ids, each other line only its own record's, and
    # none are left for the next invocation
    lines = json_lines(logs.getvalue())
    (unreadable,) = [d for d in lines if d.get("messageId") == "m2"]
    assert "sendId" not in unreadable
    claims = [d for d in lines if d["message"] == "claiming"]
    assert sorted(d["sendId"] for d in claims) == ["send-m1", "send-m3"]
    assert "sendId" not in logger.get_current_keys()
    assert "sendId" not in logger.thread_safe_get_current_keys()
