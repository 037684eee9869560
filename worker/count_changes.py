"""Stream-consumer Lambda entry point: DynamoDB Streams records of the table in, batch counts out.

The event source mapping hands over only send rows (a filter on the key prefix, terraform/counts.tf).
A failure raises, so Lambda delivers the same records again; the write is idempotent per delivery
(campaign/services/count_changes.py). Like the worker it imports no web framework.
"""

from campaign.cold_start import collector_paused

# Everything the consumer loads at a cold start, with the garbage collector paused (campaign/cold_start.py).
with collector_paused():
    from typing import Any

    from aws_lambda_powertools.utilities.typing import LambdaContext

    from campaign.aws.batch_counts import BatchCounts
    from campaign.caches import per_container
    from campaign.config import counter_settings
    from campaign.observability import logger, tracer
    from campaign.services.count_changes import apply_count_changes


@per_container
def _counts() -> BatchCounts:
    settings = counter_settings()
    return BatchCounts(settings.table_name, settings.retention)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:  # noqa: ARG001 (Lambda's signature)
    records = event.get("Records", [])
    changes = apply_count_changes(records, _counts())
    logger.info("counts updated", extra={"records": len(records), "batches": len(changes)})
    return {"records": len(records), "batches": len(changes)}
