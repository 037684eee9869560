"""Move the worker's dead letters back onto the send queue (see README, Operations).

Usage (operator credentials; environment as for the API Lambda: TABLE_NAME, QUEUE_URL, DLQ_URL):
    python scripts/redrive_dlq.py
Rows that gave up after transient failures are reopened and sent once more; rows that are SENT, or
ERROR for a permanent or unknown-outcome reason, are never resent (their dead letters are dropped).
"""

from campaign.aws.dead_letters import DeadLetterQueue
from campaign.aws.send_queue import SendQueue
from campaign.aws.send_rows import SendRows
from campaign.config import api_settings
from campaign.services.redrive import redrive_dead_letters


def main() -> None:
    settings = api_settings()
    if settings.dlq_url is None:
        raise SystemExit("set DLQ_URL to the dead-letter queue's URL (terraform output dlq_url)")
    result = redrive_dead_letters(
        DeadLetterQueue(settings.dlq_url),
        rows=SendRows(settings.table_name),
        queue=SendQueue(settings.queue_url, settings.enqueue_delay_seconds),
    )
    print(
        f"requeued {result.requeued}, dropped (already final) {result.dropped_final}, "
        f"left in the DLQ for a person {result.left_in_dlq}"
    )


if __name__ == "__main__":
    main()
