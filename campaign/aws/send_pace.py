"""The fleet's shared send-rate bucket in DynamoDB: one item (`PACE#send`) holding `tat`, the start
of the next unreserved slot (campaign/domain/pace.py has the arithmetic).

Every worker reserves through conditional UpdateItems, never a read-then-write, so concurrent
reservations can neither overlap nor pass the rate:
* busy (tat >= now): `tat = tat + inc` if tat is between now and the latest start from which the
  grant still fits the horizon; the new tat says where the grant starts;
* idle (no item, or tat < now): `tat = now + inc` if the item has no tat or one in the past.
Each instance remembers the last tat it saw and starts with the form that fits it; a failed condition
returns the item as it is (ReturnValuesOnConditionCheckFailure), so the retry needs no read: one
request per reservation in the common case, two when the bucket changed form since this instance's
last look. The remembered tat is a lower bound (tat only grows), so a grant it proves impossible
costs no request at all.
"""

import time
from collections.abc import Callable

from campaign.aws.clients import client
from campaign.aws.conditional import conditional_write
from campaign.aws.items import to_attributes
from campaign.aws.table_schema import PACE_KEY, PARTITION_KEY, TTL_ATTRIBUTE
from campaign.domain.pace import (
    MICROS,
    Pace,
    Reservation,
    fitting,
    increment_us,
    latest_start_us,
    reservation,
    start_us,
    to_micros,
    unpaced,
)

__all__ = ["Pace", "SendPace", "UnpacedSends"]

# Conditional writes per reservation before giving up for now (count 0): each failure means another
# sender moved the bucket, so the fleet still sends at its rate.
_ATTEMPTS = 4
# The item outlives its last reservation by a day, then TTL deletes it: an idle bucket's state.
_KEEP_SECONDS = 86_400
# The tat of a bucket without an item: long past, so the idle form is the one to try.
_NO_ITEM = 0

_BUSY = ("SET tat = tat + :inc, #ttl = :ttl", "tat BETWEEN :now AND :latest")
_IDLE = ("SET tat = :tat, #ttl = :ttl", "attribute_not_exists(tat) OR tat < :now")


class SendPace:
    """The shared bucket, paced at `rate_per_second` for the whole fleet."""

    def __init__(self, table_name: str, rate_per_second: float, clock: Callable[[], float] = time.time) -> None:
        if not rate_per_second > 0:
            raise ValueError("a send rate must be positive")
        self._table = table_name
        self._rate = rate_per_second
        self._clock = clock
        self._ddb = client("dynamodb")
        self._tat: int | None = None  # the last tat seen; None: not looked yet

    def reserve(self, wanted: int, horizon_seconds: float) -> Reservation:
        """Up to `wanted` tokens whose slots start within `horizon_seconds` (a negative one counts as
        0); count 0 when none does, with `next_free_at` saying when the first free slot starts."""
        horizon_us = to_micros(max(horizon_seconds, 0.0))
        if wanted <= 0:
            return reservation(start_us(self._tat, to_micros(self._clock())), 0, self._rate)
        for _ in range(_ATTEMPTS):
            now_us = to_micros(self._clock())
            start = start_us(self._tat, now_us)
            count = fitting(start, now_us, wanted, horizon_us, self._rate)
            if count == 0:
                return reservation(start, 0, self._rate)
            idle = self._tat is not None and self._tat < now_us
            tat, taken = self._write(now_us, horizon_us, count, idle)
            self._tat = tat
            if taken:
                return reservation(tat - increment_us(count, self._rate), count, self._rate)
        return reservation(start_us(self._tat, to_micros(self._clock())), 0, self._rate)

    def _write(self, now_us: int, horizon_us: int, count: int, idle: bool) -> tuple[int, bool]:
        """One conditional UpdateItem: (the tat it wrote, True), or (the tat it found, False)."""
        inc = increment_us(count, self._rate)
        update, condition = _IDLE if idle else _BUSY
        values = {":now": now_us, ":ttl": (now_us + horizon_us) // MICROS + _KEEP_SECONDS}
        if idle:
            values[":tat"] = now_us + inc
        else:
            values |= {":inc": inc, ":latest": latest_start_us(now_us, horizon_us, count, self._rate)}
        item, written = conditional_write(
            self._ddb.update_item,
            TableName=self._table,
            Key={PARTITION_KEY: {"S": PACE_KEY}},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
            ExpressionAttributeValues=to_attributes(values),
            ReturnValues="UPDATED_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        # Written, the new tat is returned; not, the item as found (none: the bucket is idle).
        return (int(item["tat"]["N"]) if item and "tat" in item else _NO_ITEM), written


class UnpacedSends:
    """No rate is known: every token is granted now, without a request."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def reserve(self, wanted: int, horizon_seconds: float) -> Reservation:
        return unpaced(max(wanted, 0), self._clock())
