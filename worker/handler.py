"""Worker Lambda entry point: an SQS batch in, a partial batch response out.

Each record that fails is listed in `batchItemFailures` (the event source mapping reports batch item
failures), so only those messages come back; the send itself is guarded by the row claim
(campaign/services/send_email.py). A wholly failed batch is reported item by item too: raising would
make Lambda retry the batch the same way, but would also crash the local poller and hide which records
failed.

The batch's sends run side by side at the fleet's pace (campaign/services/send_batch.py); this module
only reads the records and wires the gateways: the providers in their configured order behind their
circuit breakers, the fleet's token bucket, the send queue for deferrals, and the thread pool.

This loop is what Powertools' `BatchProcessor` does for a standard SQS queue. Importing that utility
brings in asyncio and every event data class Powertools has, and kept the worker over its cold-start
target; docs/DESIGN.md has the measurements.
"""

from campaign.cold_start import collector_paused

# Everything the worker loads at a cold start, with the garbage collector paused (campaign/cold_start.py).
with collector_paused():
    from collections.abc import Callable, Iterator
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import contextmanager
    from functools import cache
    from typing import Any, TypedDict

    from aws_lambda_powertools.utilities.typing import LambdaContext

    from campaign.aws.bodies import CachedBodies
    from campaign.aws.breakers import Breakers
    from campaign.aws.email_gateway import DryRunSender, EmailSender, SesSender
    from campaign.aws.send_pace import SendPace, UnpacedSends
    from campaign.aws.send_queue import SendJob, SendQueue
    from campaign.aws.send_quota import account_max_send_rate
    from campaign.aws.send_rows import SendRows
    from campaign.aws.suppressions import Suppressions
    from campaign.aws.unsubscribe_keys import resolve_key
    from campaign.caches import clear_all, per_container, register
    from campaign.config import DRY_RUN, Provider, WorkerSettings, worker_settings
    from campaign.domain.message import Composition, Letterhead
    from campaign.domain.pace import fleet_rate
    from campaign.limits import WORKER_SEND_CONCURRENCY, WORKER_TIMEOUT_SECONDS
    from campaign.observability import logger, metrics, tracer
    from campaign.services.delivery_events import handle_delivery_event
    from campaign.services.provider_chain import NamedSender, ProviderChain
    from campaign.services.send_batch import BatchGateways, Pace, QueuedSend, send_batch
    from campaign.services.send_email import Attempt


class BatchItemFailure(TypedDict):
    itemIdentifier: str


class PartialBatchResponse(TypedDict):
    batchItemFailures: list[BatchItemFailure]


def _provider(provider: Provider, settings: WorkerSettings) -> EmailSender:
    if provider is Provider.SES:
        return SesSender(letterhead(settings), settings.configuration_set)
    from campaign.smtp_sender import SmtpSender  # only when SMTP is configured: not in every cold start

    assert settings.smtp_server is not None  # worker_settings() sets it when smtp is a provider
    return SmtpSender(letterhead(settings), settings.smtp_server)


def letterhead(settings: WorkerSettings) -> Letterhead:
    """What every message shares; worker_settings() has checked the sender, URL and key are set."""
    assert settings.sender_address is not None and settings.unsubscribe_url is not None
    return Letterhead(
        Composition(settings.sender_address, settings.footer),
        settings.unsubscribe_url,
        resolve_key(settings.unsubscribe_key),
    )


@per_container
def _rows() -> SendRows:
    return SendRows(worker_settings().table_name)


@per_container
def _suppressions() -> Suppressions:
    return Suppressions(worker_settings().table_name)


@cache
def _gateways() -> BatchGateways:
    """Everything a batch sends through, built once per container (in this thread: boto3 sessions
    must not be created from several threads at once)."""
    settings = worker_settings()
    providers = settings.providers
    breakers = Breakers(settings.table_name, [p.value for p in providers]) if providers else None
    senders = [NamedSender(p.value, _provider(p, settings)) for p in providers] or [
        NamedSender(DRY_RUN, DryRunSender())
    ]
    return BatchGateways(
        rows=_rows(),
        bodies=CachedBodies(settings.table_name),
        suppressions=_suppressions(),
        sender=ProviderChain(senders, breakers),
        pace=_pace(settings),
        queue=SendQueue(settings.queue_url),
        breakers=breakers,
        pool=ThreadPoolExecutor(max_workers=WORKER_SEND_CONCURRENCY, thread_name_prefix="send"),
    )


def _close_gateways() -> None:
    """The send pool's threads go with the gateways they served."""
    if _gateways.cache_info().currsize:
        _gateways().pool.shutdown(wait=False)
    _gateways.cache_clear()


register(_close_gateways)


def clear_caches() -> None:
    """What a new container would build again: every registered cache (campaign/caches.py)."""
    clear_all()


def _pace(settings: WorkerSettings) -> Pace:
    """The fleet's rate: the account's SES rate (when SES is a provider) or the configured one, the lower."""
    account = account_max_send_rate() if Provider.SES in settings.providers else None
    rate = fleet_rate(settings.send_rate_per_second, account)
    if rate is None:
        return UnpacedSends()
    logger.info("send rate", extra={"perSecond": rate, "accountMaxSendRate": account})
    return SendPace(settings.table_name, rate)


def _queued_send(record: dict[str, Any]) -> QueuedSend:
    job = SendJob.from_body(record["body"])
    receive_count = job.prior_receives + int(record["attributes"]["ApproximateReceiveCount"])
    return QueuedSend(record["messageId"], job, Attempt(receive_count, worker_settings().max_receive_count))


def process_batch(
    records: list[dict[str, Any]], seconds_left: Callable[[], float] | None = None
) -> PartialBatchResponse:
    """Send the batch's records. `seconds_left` (the invocation's remaining time) stops the sending in
    time; without it (a direct call) the batch has the function's whole timeout."""
    failed: set[str] = set()
    sends: list[QueuedSend] = []
    for record in records:
        with _on_failure_redeliver(record, failed):
            sends.append(_queued_send(record))
    failed |= send_batch(sends, _gateways(), seconds_left or (lambda: float(WORKER_TIMEOUT_SECONDS)))
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
