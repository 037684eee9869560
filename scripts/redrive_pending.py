"""Re-queue a batch's rows that were left PENDING because SQS refused their messages.

Usage (operator credentials; environment: TABLE_NAME, QUEUE_URL, and the AWS region):
    python scripts/redrive_pending.py <batchId>
Locally, against `make run`: AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=local \\
    AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1 TABLE_NAME=csv-campaign-local \\
    QUEUE_URL=http://127.0.0.1:4566/123456789012/csv-campaign-local-sends python scripts/redrive_pending.py <id>
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file from any directory

from campaign.aws.send_index import SendIndex
from campaign.aws.send_queue import SendQueue
from campaign.aws.send_rows import SendRows
from campaign.config import SettingsError, operator_settings
from campaign.domain.ids import is_batch_id
from campaign.services.redrive import redrive_pending


def main(batch_id: str) -> None:
    if not is_batch_id(batch_id):
        raise SystemExit(f"{batch_id!r} is not a batch id (32 lowercase hexadecimal characters)")
    try:
        settings = operator_settings()
    except SettingsError as exc:  # a missing variable: one line for the operator, not a traceback
        raise SystemExit(str(exc)) from None
    result = redrive_pending(
        batch_id,
        index=SendIndex(settings.table_name),
        rows=SendRows(settings.table_name),
        queue=SendQueue(settings.queue_url, settings.enqueue_delay_seconds),
    )
    print(f"requeued {result.requeued}, still pending {result.still_pending}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
