"""Move the worker's dead letters back onto the send queue (docs/operations.md, "Re-drives").

Usage (operator credentials; environment: TABLE_NAME, QUEUE_URL, DLQ_URL, and the AWS region):
    python scripts/redrive_dlq.py
Rows that gave up after transient failures are sent again, as new rows of their batch; rows that are
SENT, or ERROR for a permanent or unknown-outcome reason, are never resent (their dead letters are
dropped).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file from any directory

from campaign.aws.batch_counts import BatchCounts
from campaign.aws.dead_letters import DeadLetterQueue
from campaign.aws.send_queue import SendQueue
from campaign.aws.send_rows import SendRows
from campaign.config import SettingsError, operator_settings
from campaign.services.redrive import ResendGateways, redrive_dead_letters


def main() -> None:
    try:
        settings = operator_settings()
    except SettingsError as exc:  # a missing variable: one line for the operator, not a traceback
        raise SystemExit(str(exc)) from None
    if settings.dlq_url is None:
        raise SystemExit("set DLQ_URL to the dead-letter queue's URL (terraform output dlq_url)")
    result = redrive_dead_letters(
        DeadLetterQueue(settings.dlq_url),
        resend=ResendGateways(
            rows=SendRows(settings.table_name),
            counts=BatchCounts(settings.table_name, settings.retention),
            retention=settings.retention,
        ),
        queue=SendQueue(settings.queue_url, settings.enqueue_delay_seconds),
    )
    print(
        f"requeued {result.requeued}, dropped (already final) {result.dropped_final}, "
        f"left in the DLQ for a person {result.left_in_dlq}"
    )


if __name__ == "__main__":
    main()
