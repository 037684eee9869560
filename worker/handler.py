"""Worker Lambda entry point: an SQS batch in, a partial batch response out.

Each record that raises is listed in `batchItemFailures` (the event source mapping reports batch item
failures), so only those messages come back; the send itself is guarded by the row claim
(campaign/services/send_email.py). A wholly failed batch is reported item by item too: raising would
make Lambda retry the batch the same way, but would also crash the local poller and hide which records
failed.

A batch goes through the send in three passes: every record's row is claimed, the suppression list is
read once for all the claimed recipients (one BatchGetItem per 100), then each claimed row is sent,
or recorded as suppressed, or, with too little time left, given back for SQS to deliver again.

This loop is what Powertools' `BatchProcessor` does for a standard SQS queue. Importing that utility
brings in asyncio and every event data class Powertools has, 64 million instructions or 7% of the
worker's import, and kept it over its cold-start target; docs/DESIGN.md has the measurements.
"""

from campaign.cold_start import collector_paused

# Everything the worker loads at a cold start, with the garbage collector paused (campaign/cold_start.py).
with collector_paused():
    from collections.abc import Callable, Iterator
    from contextlib import contextmanager
    from functools import lru_cache
    from typing import Any, TypedDict

    from aws_lambda_powertools.utilities.typing import LambdaContext

    from campaign.aws.bodies import CachedBodies
    from campaign.aws.email_gateway import DryRunSender, EmailSender, SesSender
    from campaign.aws.send_queue import SendJob
    from campaign.aws.send_rows import SendRows
    from campaign.aws.suppressions import Suppressions
    from campaign.aws.unsubscribe_keys import resolve_key
    from campaign.config import Provider, WorkerSettings, worker_settings
    from campaign.domain.message import Composition, Letterhead
    from campaign.domain.models import SuppressionReason
    from campaign.limits import WORKER_SEND_MARGIN_SECONDS
    from campaign.observability import logger, metrics, tracer
    from campaign.services.delivery_events import handle_delivery_event
    from campaign.services.send_email import (
        Attempt,
        ClaimedSend,
        SendOutcome,
        claim_send,
        give_back,
        send_claimed,
    )


class BatchItemFailure(TypedDict):
    itemIdentifier: str


class PartialBatchResponse(TypedDict):
    batchItemFailures: list[BatchItemFailure]


@lru_cache(maxsize=1)
def _sender() -> EmailSender:
    settings = worker_settings()
    if settings.providers[:1] == (Provider.SES,):
        return SesSender(letterhead(settings), settings.configuration_set)
    if settings.providers[:1] == (Provider.SMTP,):
        from campaign.smtp_sender import SmtpSender  # local only (`make run`): not in the cold start

        assert settings.smtp_server is not None  # worker_settings() sets it in this mode
        return SmtpSender(letterhead(settings), settings.smtp_server)
    return DryRunSender()


def letterhead(settings: WorkerSettings) -> Letterhead:
    """What every message shares; worker_settings() has checked the sender, URL and key are set."""
    assert settings.sender_address is not None and settings.unsubscribe_url is not None
    return Letterhead(
        Composition(settings.sender_address, settings.footer),
        settings.unsubscribe_url,
        resolve_key(settings.unsubscribe_key),
    )


@lru_cache(maxsize=1)
def _rows() -> SendRows:
    return SendRows(worker_settings().table_name)


@lru_cache(maxsize=1)
def _bodies() -> CachedBodies:
    return CachedBodies(worker_settings().table_name)


@lru_cache(maxsize=1)
def _suppressions() -> Suppressions:
    return Suppressions(worker_settings().table_name)


def record_handler(record: dict[str, Any]) -> SendOutcome | ClaimedSend:
    """Claim one SQS record's send (as Lambda delivers it): the claimed row, or how the record ended
    if there is nothing to send. Raises to have SQS deliver it again."""
    job = SendJob.from_body(record["body"])
    attempt = Attempt(int(record["attributes"]["ApproximateReceiveCount"]), worker_settings().max_receive_count)
    logger.append_keys(sendId=job.send_id, batchId=job.batch_id)
    step = claim_send(job, attempt, rows=_rows(), bodies=_bodies())
    if isinstance(step, SendOutcome):
        logger.info("send processed", extra={"outcome": step.value, "receiveCount": attempt.receive_count})
    return step


def _send(
    claimed: ClaimedSend, reasons: dict[str, SuppressionReason], seconds_left: Callable[[], float] | None
) -> None:
    """Send one claimed row, unless the batch has run short of time (its claim is given back)."""
    row = claimed.row
    logger.append_keys(sendId=row.send_id, batchId=row.batch_id)
    if seconds_left is not None and seconds_left() < WORKER_SEND_MARGIN_SECONDS:
        give_back(claimed, "the worker ran short of time before sending", rows=_rows())
    outcome = send_claimed(claimed, reasons.get(claimed.recipient), rows=_rows(), sender=_sender())
    logger.info("send processed", extra={"outcome": outcome.value, "receiveCount": claimed.attempt.receive_count})


def process_batch(
    records: list[dict[str, Any]], seconds_left: Callable[[], float] | None = None
) -> PartialBatchResponse:
    """Claim every record's send, read the suppression list once for the claimed recipients, then send
    each claimed row. `seconds_left` (the invocation's remaining time) stops the sending in time."""
    failed: set[str] = set()
    claimed: list[tuple[dict[str, Any], ClaimedSend]] = []
    for record in records:
        with _on_failure_redeliver(record, failed):
            step = record_handler(record)
            if isinstance(step, ClaimedSend):
                claimed.append((record, step))
    if claimed:
        try:
            reasons = _suppressions().reasons([step.recipient for _, step in claimed])
        except Exception:  # the list could not be read: no claimed row may be sent blind
            logger.warning("suppression list not readable; the batch's claims are given back", exc_info=True)
            for record, step in claimed:
                with _on_failure_redeliver(record, failed):
                    give_back(step, "suppression list not readable", rows=_rows())
            claimed = []
        for record, step in claimed:
            with _on_failure_redeliver(record, failed):
                _send(step, reasons, seconds_left)
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if r["messageId"] in failed]}


@contextmanager
def _on_failure_redeliver(record: dict[str, Any], failed: set[str]) -> Iterator[None]:
    """Any failure of one record is logged and noted (SQS delivers that message again), never raised."""
    try:
        yield
    except Exception:
        logger.warning(
            "send not processed; SQS will deliver it again", extra={"messageId": record["messageId"]}, exc_info=True
        )
        failed.add(record["messageId"])
    finally:
        logger.remove_keys(["sendId", "batchId"])  # this record's ids must not label the next one


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialBatchResponse:
    """Two event sources, told apart by their queue: SES delivery events, or sends."""
    records = event["Records"]
    if records and records[0].get("eventSourceARN") == worker_settings().delivery_events_queue_arn:
        return process_delivery_events(records)
    return process_batch(records, lambda: context.get_remaining_time_in_millis() / 1000)


def process_delivery_events(records: list[dict[str, Any]]) -> PartialBatchResponse:
    """Record each SES event on its send. One that cannot be used is dropped by the service; one that
    fails (the table unreachable) comes back through SQS, then to the events queue's DLQ."""
    failed: set[str] = set()
    for record in records:
        with _on_failure_redeliver(record, failed):
            handle_delivery_event(record["body"], rows=_rows(), suppressions=_suppressions())
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if r["messageId"] in failed]}
