"""Worker Lambda entry point: an SQS batch in, a partial batch response out.

Powertools' BatchProcessor reports each record that raised in `batchItemFailures`, so only those
messages come back; the send itself is guarded by the row claim in `send_queued_email`.
"""

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign.aws.email_gateway import DryRunSender, EmailSender, SesSender
from campaign.aws.send_queue import SendJob
from campaign.aws.send_rows import SendRows
from campaign.config import SendMode, worker_settings
from campaign.observability import logger, metrics, tracer
from campaign.services.send_email import Attempt, send_queued_email

# Report a wholly failed batch item by item too: raising would make Lambda retry the batch the same
# way, but would also crash the local poller and hide which records failed.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@lru_cache(maxsize=1)
def _sender() -> EmailSender:
    settings = worker_settings()
    if settings.send_mode is SendMode.SES:
        assert settings.sender_address is not None  # enforced by worker_settings()
        return SesSender(settings.sender_address, settings.configuration_set)
    return DryRunSender()


@lru_cache(maxsize=1)
def _rows() -> SendRows:
    return SendRows(worker_settings().table_name)


def record_handler(record: SQSRecord) -> str:
    logger.remove_keys(["sendId", "batchId"])  # a previous record's ids must not label this one
    job = SendJob.from_body(record.body)
    attempt = Attempt(int(record.attributes.approximate_receive_count), worker_settings().max_receive_count)
    logger.append_keys(sendId=job.send_id, batchId=job.batch_id)
    outcome = send_queued_email(job, attempt, rows=_rows(), sender=_sender())
    logger.info("send processed", extra={"outcome": outcome.value, "receiveCount": attempt.receive_count})
    return outcome.value


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
