"""Streaming-ingest Lambda entry point: an S3 ObjectCreated notification (or a continuation) in.

Each record names one upload (`uploads/<batchId>.csv`); `ingest_upload` does the work and says when
the file needs another invocation, which this handler then starts. Like the worker it imports no web
framework, and it ships in the worker's package.
"""

from campaign.cold_start import collector_paused

# Everything the ingest loads at a cold start, with the garbage collector paused (campaign/cold_start.py).
with collector_paused():
    from collections.abc import Iterator
    from typing import Any
    from urllib.parse import unquote_plus

    from aws_lambda_powertools.utilities.typing import LambdaContext

    from campaign.aws.continuation import CONTINUE_BATCH_FIELD, Continuation, LambdaContinuation
    from campaign.aws.upload_store import UploadStore, batch_id_from_key
    from campaign.caches import per_container
    from campaign.config import SettingsError, stream_ingest_settings
    from campaign.observability import logger, metrics, tracer
    from campaign.services.ingest import ingest_gateways_from
    from campaign.services.stream_ingest import StreamGateways, StreamOutcome, ingest_upload


@per_container
def _gateways() -> StreamGateways:
    settings = stream_ingest_settings()
    return StreamGateways(
        ingest=ingest_gateways_from(settings),
        uploads=UploadStore(settings.upload_bucket),
    )


_continuation: Continuation | None = None


def use_continuation(continuation: Continuation | None) -> None:
    """The local stack runs continuations in-process instead of invoking Lambda."""
    global _continuation
    _continuation = continuation


def _continuer() -> Continuation:
    if _continuation is not None:
        return _continuation
    function_name = stream_ingest_settings().function_name
    if function_name is None:
        raise SettingsError("AWS_LAMBDA_FUNCTION_NAME is not set: cannot continue a long ingest")
    return LambdaContinuation(function_name)


class _RemainingTime:
    def __init__(self, context: LambdaContext) -> None:
        self._context = context

    def seconds_left(self) -> float:
        return float(self._context.get_remaining_time_in_millis()) / 1000


def batch_ids(event: dict[str, Any]) -> Iterator[str]:
    """The uploads an event names; an object this service did not ask for is logged and left alone."""
    if CONTINUE_BATCH_FIELD in event:
        yield str(event[CONTINUE_BATCH_FIELD])
        return
    for record in event.get("Records", []):
        key = unquote_plus(record["s3"]["object"]["key"])
        batch_id = batch_id_from_key(key)
        if batch_id is None:
            logger.warning("ignoring an object outside the upload naming scheme", extra={"key": key})
            continue
        yield batch_id


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    outcomes: dict[str, str] = {}
    for batch_id in batch_ids(event):
        outcome = ingest_upload(batch_id, _gateways(), _RemainingTime(context))
        if outcome is StreamOutcome.CONTINUE:
            _continuer().continue_later(batch_id)
        outcomes[batch_id] = outcome.value
    return outcomes
