"""The worker's partial batch response: which SQS records come back, and what the logs say of them."""

import io
from typing import Any

import pytest

import worker.handler
from campaign.observability import logger
from campaign.services.send_email import RetryLaterError, SendOutcome
from tests.support.log_lines import json_lines

Plan = dict[str, Exception]


def _record(message_id: str) -> dict[str, Any]:
    """An SQS record as Lambda delivers it (only the fields the worker reads)."""
    return {
        "messageId": message_id,
        "body": '{"sendId":"s","batchId":"b"}',
        "attributes": {"ApproximateReceiveCount": "1"},
    }


@pytest.fixture
def failures(monkeypatch: pytest.MonkeyPatch) -> Plan:
    """The per-record work replaced: it labels the logs as the real one does once the body is read,
    then raises what the test planned for that message id, if anything. A planned ValueError stands
    for a body that cannot be read, so it is raised before the labels."""
    plan: Plan = {}

    def handle(record: dict[str, Any]) -> SendOutcome:
        planned = plan.get(record["messageId"])
        if isinstance(planned, ValueError):
            raise planned
        logger.append_keys(sendId=f"send-{record['messageId']}", batchId="b")
        if planned is not None:
            raise planned
        logger.info("send processed")
        return SendOutcome.SENT

    monkeypatch.setattr(worker.handler, "record_handler", handle)
    return plan


def test_only_the_records_that_raised_come_back(failures: Plan) -> None:
    failures["m2"] = RetryLaterError("row not written yet")
    response = worker.handler.process_batch([_record("m1"), _record("m2"), _record("m3")])
    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}]}


def test_a_wholly_failed_batch_is_reported_item_by_item_instead_of_raising(failures: Plan) -> None:
    failures |= {"m1": ValueError("bad body"), "m2": RuntimeError("boom")}
    response = worker.handler.process_batch([_record("m1"), _record("m2")])
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}


def test_a_failed_record_is_logged_with_its_message_id_and_traceback(failures: Plan, logs: io.StringIO) -> None:
    failures["m1"] = RetryLaterError("row not written yet")
    worker.handler.process_batch([_record("m1")])
    (line,) = [d for d in json_lines(logs.getvalue()) if d.get("messageId") == "m1"]
    assert line["level"] == "WARNING"
    assert line["exception_name"] == "RetryLaterError"
    assert "row not written yet" in line["exception"]


def test_a_failed_records_ids_do_not_label_the_next_records_lines(failures: Plan, logs: io.StringIO) -> None:
    # Given a record that fails once its ids are known, then one whose body cannot be read
    failures |= {"m1": RuntimeError("boom"), "m2": ValueError("not json")}
    worker.handler.process_batch([_record("m1"), _record("m2")])
    # Then the second record's line carries no ids, and none are left for the next invocation
    (unreadable,) = [d for d in json_lines(logs.getvalue()) if d.get("messageId") == "m2"]
    assert "sendId" not in unreadable
    assert "sendId" not in logger.get_current_keys()
