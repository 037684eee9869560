"""The worker's use case for one SQS batch: send its messages side by side, at the fleet's pace.

A batch goes through four steps. The circuit breakers are read once (if no provider admits a send,
the whole batch is deferred untouched). Every message's row is claimed, all at once across the pool.
The suppression list is read once for the claimed recipients. Then the fleet's token bucket is asked
for one token per row still to send: each token is a time slot, and a row is sent in its slot; rows
for which no slot is free within the invocation's time are given back and deferred.

Deferring puts a message back on the send queue as a new message, delayed until the bucket has
room, and lets SQS delete the original: waiting in SQS costs nothing, and a deferral never counts as
a failed delivery, so deferrals alone never bring a message to the DLQ (the new message carries the
receive count of the deliveries that did try, campaign/aws/send_queue.py).

The claim keeps every send at most once whatever runs side by side: two deliveries of one message in
the same batch race for its claim and one of them waits for SQS to deliver it again.
"""

import math
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import NamedTuple, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from campaign.aws.send_queue import SendJob
from campaign.aws.send_rows import SendRows
from campaign.domain.clock import now_iso
from campaign.domain.models import SuppressionReason
from campaign.domain.pace import unpaced
from campaign.limits import SQS_MAX_DELAY_SECONDS, WORKER_SEND_MARGIN_SECONDS
from campaign.observability import METRIC_SENDS_DEFERRED, METRIC_TOKEN_WAIT, add_metric, logger
from campaign.services.provider_chain import Breakers, ProviderChain
from campaign.services.send_email import (
    Attempt,
    BodySource,
    ClaimedSend,
    SendOutcome,
    claim_send,
    give_back,
    send_claimed,
)


class QueuedSend(NamedTuple):
    """One SQS record of the batch, read."""

    message_id: str
    job: SendJob
    attempt: Attempt


class Slots(Protocol):
    """A reservation of the fleet's send tokens (campaign/domain/pace.py)."""

    @property
    def count(self) -> int: ...

    @property
    def next_free_at(self) -> float: ...

    def slot(self, i: int) -> float: ...


class Pace(Protocol):
    def reserve(self, wanted: int, horizon_seconds: float) -> Slots: ...


class SharedBreakers(Breakers, Protocol):
    def refresh(self) -> None: ...

    def seconds_until_probe(self) -> float | None: ...


class Requeue(Protocol):
    def enqueue(self, jobs: Sequence[SendJob], delay_seconds: int | None = None) -> dict[str, str]: ...


class SuppressionReader(Protocol):
    def reasons(self, recipients: Sequence[str]) -> dict[str, SuppressionReason]: ...


class BatchGateways(NamedTuple):
    rows: SendRows
    bodies: BodySource
    suppressions: SuppressionReader
    sender: ProviderChain
    pace: Pace
    queue: Requeue
    breakers: SharedBreakers | None
    pool: Executor


def send_batch(sends: Sequence[QueuedSend], gateways: BatchGateways, seconds_left: Callable[[], float]) -> set[str]:
    """Send the batch; returns the message ids SQS must deliver again. `seconds_left` is the
    invocation's remaining time: no slot is taken, and no send started, past its margin."""
    failed: set[str] = set()
    wait = _breakers_closed_for(gateways.breakers)
    if wait is not None:
        logger.warning("every provider's circuit breaker is open; the batch is deferred", extra={"seconds": wait})
        return _defer(sends, wait, gateways.queue)
    steps = list(gateways.pool.map(lambda send: _claim(send, gateways, failed), sends))
    claimed = [(send, step) for send, step in zip(sends, steps, strict=True) if isinstance(step, ClaimedSend)]
    if not claimed:
        return failed
    try:
        reasons = gateways.suppressions.reasons([step.recipient for _, step in claimed])
    except Exception:  # the list could not be read: no claimed row may be sent blind
        logger.warning("suppression list not readable; the batch's claims are given back", exc_info=True)
        _each(
            gateways, claimed, failed, lambda step: give_back(step, "suppression list not readable", rows=gateways.rows)
        )
        return failed
    suppressed = [(send, step) for send, step in claimed if step.recipient in reasons]
    _each(gateways, suppressed, failed, lambda step: _finish_suppressed(step, reasons[step.recipient], gateways))
    sendable = [(send, step) for send, step in claimed if step.recipient not in reasons]
    return failed | _send_paced(sendable, gateways, seconds_left, failed)


def _breakers_closed_for(breakers: SharedBreakers | None) -> float | None:
    """Seconds until some provider may be tried again, when none may be now; None when one may."""
    if breakers is None:
        return None
    try:
        breakers.refresh()
    except Exception:  # unreadable: the last state known (closed at first) stands; the sends will tell
        logger.warning("circuit breaker state not readable", exc_info=True)
        return None
    return breakers.seconds_until_probe()


def _claim(send: QueuedSend, gateways: BatchGateways, failed: set[str]) -> ClaimedSend | None:
    with _one_send(send, failed):
        step = claim_send(send.job, send.attempt, rows=gateways.rows, bodies=gateways.bodies)
        if isinstance(step, SendOutcome):
            logger.info("send processed", extra={"outcome": step.value, "receiveCount": send.attempt.receive_count})
            return None
        return step
    return None


def _finish_suppressed(step: ClaimedSend, reason: SuppressionReason, gateways: BatchGateways) -> None:
    send_claimed(step, reason, rows=gateways.rows, sender=gateways.sender)


def _send_paced(
    sendable: list[tuple[QueuedSend, ClaimedSend]],
    gateways: BatchGateways,
    seconds_left: Callable[[], float],
    failed: set[str],
) -> set[str]:
    if not sendable:
        return failed
    horizon = seconds_left() - WORKER_SEND_MARGIN_SECONDS
    try:
        # With too little time left to start a send, no slot is taken: every row is deferred.
        slots = gateways.pace.reserve(len(sendable), horizon) if horizon >= 0 else unpaced(0, time.time())
    except Exception:  # the bucket could not be read: nothing may be sent unpaced
        logger.warning("send rate bucket not readable; the batch's claims are given back", exc_info=True)
        _each(
            gateways,
            sendable,
            failed,
            lambda step: give_back(step, "send rate bucket not readable", rows=gateways.rows),
        )
        return failed
    now_sending, later = sendable[: slots.count], sendable[slots.count :]
    if later:
        _each(gateways, later, failed, lambda step: _unclaim(step, gateways.rows))
        failed |= _defer(
            [send for send, _ in later if send.message_id not in failed],
            slots.next_free_at - time.time(),
            gateways.queue,
        )
    futures = [
        gateways.pool.submit(_send_in_slot, send, step, slots.slot(i), gateways, seconds_left, failed)
        for i, (send, step) in enumerate(now_sending)
    ]
    for future in futures:
        future.result()
    return failed


def _unclaim(step: ClaimedSend, rows: SendRows) -> None:
    if not rows.unclaim(step.row, now_iso()):
        raise RuntimeError("the claim was no longer this delivery's when it was given back")


def _send_in_slot(
    send: QueuedSend,
    step: ClaimedSend,
    slot: float,
    gateways: BatchGateways,
    seconds_left: Callable[[], float],
    failed: set[str],
) -> None:
    with _one_send(send, failed):
        wait = slot - time.time()
        if wait > 0:
            time.sleep(wait)  # this send's own slot in the fleet's rate: one scheduled wait, never a poll
            add_metric(METRIC_TOKEN_WAIT, MetricUnit.Milliseconds, wait * 1000)
        if seconds_left() < WORKER_SEND_MARGIN_SECONDS:
            give_back(step, "the worker ran short of time before sending", rows=gateways.rows)
        outcome = send_claimed(step, None, rows=gateways.rows, sender=gateways.sender)
        logger.info("send processed", extra={"outcome": outcome.value, "receiveCount": send.attempt.receive_count})


def _defer(sends: Sequence[QueuedSend], wait_seconds: float, queue: Requeue) -> set[str]:
    """Put the messages back on the queue, delayed; returns the ids whose new message SQS refused
    (their original comes back instead, as a failed delivery)."""
    if not sends:
        return set()
    delay = min(SQS_MAX_DELAY_SECONDS, max(1, math.ceil(wait_seconds)))
    jobs = {send.job.send_id: send for send in sends}
    copies = [send.job._replace(prior_receives=send.attempt.receive_count - 1) for send in sends]
    try:
        refused = queue.enqueue(copies, delay)
    except Exception:
        logger.warning("deferred sends could not be queued again", exc_info=True)
        refused = dict.fromkeys(jobs, "SendMessageBatch failed")
    deferred = len(copies) - len(refused)
    if deferred:
        add_metric(METRIC_SENDS_DEFERRED, MetricUnit.Count, deferred)
        logger.info("sends deferred", extra={"count": deferred, "delaySeconds": delay})
    return {jobs[send_id].message_id for send_id in refused if send_id in jobs}


def _each(
    gateways: BatchGateways,
    pairs: Sequence[tuple[QueuedSend, ClaimedSend]],
    failed: set[str],
    action: Callable[[ClaimedSend], object],
) -> None:
    """Apply `action` to each claimed row across the pool; a failure marks that message for redelivery."""

    def run(pair: tuple[QueuedSend, ClaimedSend]) -> None:
        with _one_send(pair[0], failed):
            action(pair[1])

    list(gateways.pool.map(run, pairs))


@contextmanager
def _one_send(send: QueuedSend, failed: set[str]) -> Iterator[None]:
    """This send's ids label its log lines (per thread); any failure is logged and noted (SQS delivers
    that message again), never raised."""
    logger.thread_safe_append_keys(sendId=send.job.send_id, batchId=send.job.batch_id)
    try:
        yield
    except Exception:
        logger.warning(
            "send not processed; SQS will deliver it again", extra={"messageId": send.message_id}, exc_info=True
        )
        failed.add(send.message_id)
    finally:
        logger.thread_safe_remove_keys(["sendId", "batchId"])
