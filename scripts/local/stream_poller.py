"""What Lambda's DynamoDB Streams event source mapping does, for the emulator: read the table's
stream from its start, keep the records the mapping's filter keeps (send rows), and invoke the
consumer with real stream-shaped events; a consumer that raises gets the same records again."""

import logging
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from campaign.aws.table_schema import PARTITION_KEY, SEND_PREFIX
from campaign.caches import per_container
from scripts.local.sqs_poller import LocalLambdaContext

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]
# Records per invocation, as terraform/counts.tf sets the mapping's batch size.
STREAM_BATCH_SIZE = 1000


@per_container
def _streams() -> Any:
    # botocore sends stream calls to an account-specific host that moto does not route; the plain
    # regional endpoint is the same service.
    return boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"))


def _is_send_row(record: dict[str, Any]) -> bool:
    return str(record["dynamodb"]["Keys"][PARTITION_KEY]["S"]).startswith(SEND_PREFIX)


class StreamPoller:
    """One reader of the table's (single, in moto) stream shard."""

    def __init__(self, table_name: str) -> None:
        table = boto3.client("dynamodb").describe_table(TableName=table_name)["Table"]
        self._arn = table["LatestStreamArn"]
        shard = _streams().describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"][0]["ShardId"]
        self._iterator: str | None = _streams().get_shard_iterator(
            StreamArn=self._arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        self._held: list[dict[str, Any]] = []  # records a failed invocation must get again

    def poll_once(self, handler: Handler) -> int:
        """One read of the stream and, if it brought send rows, one invocation. Returns how many
        records the read brought (0: the stream is read to its end), whatever the filter kept."""
        read = 0
        if not self._held and self._iterator is not None:
            response = _streams().get_records(ShardIterator=self._iterator, Limit=STREAM_BATCH_SIZE)
            self._iterator = response.get("NextShardIterator")
            records = response.get("Records", [])
            read = len(records)
            self._held = [dict(r, eventSourceARN=self._arn) for r in records if _is_send_row(r)]
        if self._held:
            try:
                handler({"Records": self._held}, LocalLambdaContext(function_name="campaign-counts-local"))
            except Exception:  # as Lambda does: the same records again, next time
                logger.exception("stream consumer raised; its records will be delivered again")
                return max(read, 1)
            self._held = []
        return read

    def drain(self, handler: Handler, max_rounds: int = 1000) -> None:
        """Read and hand over until the stream is read to its end (or `max_rounds` reads)."""
        for _ in range(max_rounds):
            if self.poll_once(handler) == 0 and not self._held:
                return
