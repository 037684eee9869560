"""The providers' circuit breakers (campaign/domain/breaker.py), shared by every worker through one
DynamoDB item per provider (`BREAKER#<provider>`; no item: closed).

The healthy path costs one read per SQS batch and nothing per send: `refresh` reads every provider's
item in one consistent BatchGetItem, `admits` answers from that snapshot, and a success writes only
when it is a probe's. Writes are for what is rare: a failure (an atomic ADD on the window's count,
then a conditional write to open the breaker when the count reaches the threshold) and the probe of a
half-open breaker (a conditional write that exactly one worker wins, and its outcome). Every write
returns the item, so an instance's snapshot holds its own writes at once: the worker that opens a
breaker stops using it without waiting for the next batch.

An instance holds at most one probe per provider; while it does, a failure or success reported for
that provider is taken as the probe's. Any other send through the provider was admitted before the
breaker opened, a cooldown ago, far longer than a send takes.

The worker calls in from several threads: a lock guards the snapshot, and a second one puts this
instance's writes in order, so that an older write's answer never replaces a newer one's.
"""

import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from campaign.aws.bulk import get_all
from campaign.aws.clients import client
from campaign.aws.conditional import conditional_write
from campaign.aws.items import Item, from_attributes, to_attributes
from campaign.aws.table_schema import BREAKER_PREFIX, PARTITION_KEY
from campaign.domain.breaker import (
    CLOSED_STATE,
    DEFAULT_POLICY,
    BreakerPolicy,
    BreakerState,
    Phase,
    claim_expiry,
    may_probe,
    phase,
    probe_at,
    reaches_threshold,
    window_of,
)

_WINDOW, _FAILURES, _OPENED_AT, _PROBE_UNTIL = "failWindow", "failures", "openedAt", "probeUntil"
# Counting a failure alternates between two complementary conditions (count into the current window,
# or start it); each retry means another worker moved the window meanwhile, which soon stops.
_COUNT_ATTEMPTS = 4


def _number(seconds: float) -> Decimal:
    """Epoch seconds to the millisecond, as DynamoDB takes numbers (boto3 refuses floats)."""
    return Decimal(str(round(seconds, 3)))


def _state(item: Item | None) -> BreakerState:
    if not item:
        return CLOSED_STATE
    data = from_attributes(item)
    opened_at, probe_until = data.get(_OPENED_AT), data.get(_PROBE_UNTIL)
    return BreakerState(
        window=int(data.get(_WINDOW, 0)),
        failures=int(data.get(_FAILURES, 0)),
        opened_at=None if opened_at is None else float(opened_at),
        probe_until=None if probe_until is None else float(probe_until),
    )


class Breakers:
    """One circuit breaker per provider, as this instance last saw them."""

    def __init__(
        self,
        table_name: str,
        providers: Sequence[str],
        policy: BreakerPolicy = DEFAULT_POLICY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table_name
        self._ddb = client("dynamodb")
        self._policy = policy
        self._clock = clock
        self._states: dict[str, BreakerState] = dict.fromkeys(providers, CLOSED_STATE)
        # The probes this instance holds: provider -> the opening it probes.
        self._probes: dict[str, float] = {}
        self._lock = threading.Lock()
        self._writes = threading.Lock()

    def refresh(self) -> None:
        """Read every provider's breaker (one request): once per batch of messages."""
        keys = [self._key(provider) for provider in self._states]
        with self._writes:
            found = {
                str(item[PARTITION_KEY]["S"]).removeprefix(BREAKER_PREFIX): _state(item)
                for item in get_all(self._ddb, self._table, keys, consistent=True)
            }
            with self._lock:
                self._states = {provider: found.get(provider, CLOSED_STATE) for provider in self._states}

    def phase(self, provider: str) -> Phase:
        return phase(self._snapshot(provider), self._clock(), self._policy)

    def admits(self, provider: str) -> bool:
        """May a send go through `provider` now: closed, or half-open and this call won the probe
        (then this send is the probe, and must report its outcome)."""
        now = self._clock()
        state = self._snapshot(provider)
        if state.opened_at is None:
            return True
        if not may_probe(state, now, self._policy):
            return False
        with self._writes:
            state = self._snapshot(provider)  # another thread of this instance may have claimed it
            if not may_probe(state, now, self._policy):
                return False
            assert state.opened_at is not None
            won = self._update(
                provider,
                f"SET {_PROBE_UNTIL} = :until",
                f"{_OPENED_AT} = :opened AND (attribute_not_exists({_PROBE_UNTIL}) OR {_PROBE_UNTIL} <= :now)",
                {
                    ":until": _number(claim_expiry(now, self._policy)),
                    ":opened": _number(state.opened_at),
                    ":now": _number(now),
                },
            )
            if won:
                with self._lock:
                    self._probes[provider] = state.opened_at
            return won

    def record_failure(self, provider: str) -> bool:
        """A transient failure of a send through `provider`; True if this call opened its breaker."""
        now = self._clock()
        with self._writes:
            with self._lock:
                probed = self._probes.pop(provider, None)
            if probed is not None:  # the probe failed: open again, for a new cooldown
                return self._open(provider, now, f"{_OPENED_AT} = :opened", {":opened": _number(probed)})
            state = self._count_failure(provider, now)
            if not reaches_threshold(state, now, self._policy):
                return False
            return self._open(provider, now, f"attribute_not_exists({_OPENED_AT})", {})

    def record_success(self, provider: str) -> bool:
        """A send through `provider` succeeded; True if this call closed its breaker. Writes nothing
        unless this instance holds the provider's probe: the healthy path is free."""
        with self._lock:
            if self._states[provider].opened_at is None:
                self._probes.pop(provider, None)
                return False
            probed = self._probes.pop(provider, None)
        if probed is None:
            return False
        with self._writes:
            # Deleted: closed, no item. Not: another worker closed it, or it opened again, meanwhile (as found).
            found, closed = conditional_write(
                self._ddb.delete_item,
                TableName=self._table,
                Key=self._key(provider),
                ConditionExpression=f"{_OPENED_AT} = :opened",
                ExpressionAttributeValues=to_attributes({":opened": _number(probed)}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            self._keep(provider, found)
            return closed

    def seconds_until_probe(self) -> float | None:
        """When no provider is closed: how long until the first of them may be probed (0: now).
        None while some provider is closed (a send has somewhere to go)."""
        with self._lock:
            states = list(self._states.values())
        earliest = [probe_at(state, self._policy) for state in states]
        if any(moment is None for moment in earliest):
            return None
        return max(0.0, min(moment for moment in earliest if moment is not None) - self._clock())

    def _count_failure(self, provider: str, now: float) -> BreakerState:
        """ADD one to the current window's count, or start the window with one when the item counts
        an earlier one (or none): the state after the write."""
        window = window_of(now, self._policy)
        values = {":w": window, ":one": 1}
        for _ in range(_COUNT_ATTEMPTS):
            for update, condition in (
                # A later window than ours is a worker whose clock runs a little ahead: count there.
                (f"ADD {_FAILURES} :one", f"{_WINDOW} >= :w"),
                (f"SET {_WINDOW} = :w, {_FAILURES} = :one", f"attribute_not_exists({_WINDOW}) OR {_WINDOW} < :w"),
            ):
                if self._update(provider, update, condition, values):
                    return self._snapshot(provider)
        # Other workers kept moving the window: this failure goes uncounted, theirs were.
        return self._snapshot(provider)

    def _open(self, provider: str, now: float, condition: str, values: dict[str, Any]) -> bool:
        return self._update(
            provider, f"SET {_OPENED_AT} = :now REMOVE {_PROBE_UNTIL}", condition, {":now": _number(now), **values}
        )

    def _update(self, provider: str, update: str, condition: str, values: dict[str, Any]) -> bool:
        """One conditional UpdateItem; either way the snapshot takes the item as it now is."""
        item, updated = conditional_write(
            self._ddb.update_item,
            TableName=self._table,
            Key=self._key(provider),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeValues=to_attributes(values),
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        self._keep(provider, item)
        return updated

    def _keep(self, provider: str, item: Item | None) -> None:
        with self._lock:
            self._states[provider] = _state(item)

    def _snapshot(self, provider: str) -> BreakerState:
        with self._lock:
            return self._states[provider]

    def _key(self, provider: str) -> Item:
        if provider not in self._states:
            raise KeyError(f"no breaker for provider {provider!r}")
        return {PARTITION_KEY: {"S": BREAKER_PREFIX + provider}}
