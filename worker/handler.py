"""Worker Lambda entry point: an SQS batch in, a partial batch response out.

Each record that raises is listed in `batchItemFailures` (the event source mapping reports batch item
failures), so only those messages come back; the send itself is guarded by the row claim in
`send_queued_email`. A wholly failed batch is reported item by item too: raising would make Lambda
retry the batch the same way, but would also crash the local poller and hide which records failed.

This loop is what Powertools' `BatchProcessor` does for a standard SQS queue. Importing that utility
brings in asyncio and every event data class Powertools has, 64 million instructions or 7% of the
worker's import, and kept it over its cold-start target; docs/DESIGN.md has the measurements.
"""

from campaign.cold_start import collector_paused

# Everything the worker loads at a cold start, with the garbage collector paused (campaign/cold_start.py).
with collector_paused():
    from functools import lru_cache
    from typing import Any, TypedDict

    from aws_lambda_powertools.utilities.typing import LambdaContext

    from campaign.aws.bodies import CachedBodies
    from campaign.aws.email_gateway import DryRunSender, EmailSender, SesSender
    from campaign.aws.send_queue import SendJob
    from campaign.aws.send_rows import SendRows
    from campaign.aws.unsubscribe_keys import resolve_key
    from campaign.config import SendMode, WorkerSettings, worker_settings
    from campaign.domain.message import Composition, Letterhead
    from campaign.observability import logger, metrics, tracer
    from campaign.services.send_email import Attempt, SendOutcome, send_queued_email


class BatchItemFailure(TypedDict):
    itemIdentifier: str


class PartialBatchResponse(TypedDict):
    batchItemFailures: list[BatchItemFailure]


@lru_cache(maxsize=1)
def _sender() -> EmailSender:
    settings = worker_settings()
    if settings.send_mode is SendMode.SES:
        return SesSender(letterhead(settings), settings.configuration_set)
    if settings.send_mode is SendMode.SMTP:
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


def record_handler(record: dict[str, Any]) -> SendOutcome:
    """One SQS record (as Lambda delivers it); raises to have SQS deliver it again."""
    job = SendJob.from_body(record["body"])
    attempt = Attempt(int(record["attributes"]["ApproximateReceiveCount"]), worker_settings().max_receive_count)
    logger.append_keys(sendId=job.send_id, batchId=job.batch_id)
    outcome = send_queued_email(job, attempt, rows=_rows(), sender=_sender(), bodies=_bodies())
    logger.info("send processed", extra={"outcome": outcome.value, "receiveCount": attempt.receive_count})
    return outcome


def process_batch(records: list[dict[str, Any]]) -> PartialBatchResponse:
    failures: list[BatchItemFailure] = []
    for record in records:
        try:
            record_handler(record)
        except Exception:  # any failure of one record: SQS delivers that message again
            logger.warning(
                "send not processed; SQS will deliver it again", extra={"messageId": record["messageId"]}, exc_info=True
            )
            failures.append({"itemIdentifier": record["messageId"]})
        finally:
            logger.remove_keys(["sendId", "batchId"])  # this record's ids must not label the next one
    return {"batchItemFailures": failures}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialBatchResponse:  # noqa: ARG001 (Lambda's signature)
    return process_batch(event["Records"])
