"""The worker's use case: send each queued email at most once and record how it ended.

Three steps, so that a worker can take a batch of messages through them together: claim the row
(`claim_send`), then, once the suppression list has been read for every row the batch claimed, send
and record the result (`send_claimed`) or give the claim back unsent (`give_back`). A recipient
suppressed since the ingest queued the send is not mailed: the row ends in ERROR (`suppressed`).
"""

import time
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple, Protocol

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from campaign.aws.email_gateway import PermanentSendError, TransientSendError, UnknownOutcomeError
from campaign.aws.send_queue import SendJob
from campaign.aws.send_rows import Missing, NotClaimable, SendRows
from campaign.domain.addresses import recipient_key
from campaign.domain.clock import from_iso, now_iso, to_iso
from campaign.domain.models import SendRow, SuppressionReason
from campaign.domain.status import FINAL_STATUSES, EmailStatus, ErrorKind
from campaign.limits import CLAIM_STALE_AFTER_SECONDS
from campaign.observability import (
    DIMENSION_FAILURE_KIND,
    METRIC_EMAILS_FAILED,
    METRIC_EMAILS_SENT,
    METRIC_EMAILS_SUPPRESSED,
    METRIC_SES_LATENCY,
    FailureKind,
    add_metric,
    logger,
    metrics,
)
from campaign.services.provider_chain import ProviderChain


class RetryLaterError(Exception):
    """Raised to make SQS deliver the message again (the batch response lists it as failed)."""


class SendOutcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    ALREADY_FINAL = "already_final"
    SUPPRESSED = "suppressed"


class Attempt(NamedTuple):
    """Which delivery of the message this is: the last one must leave the row final."""

    receive_count: int
    max_receive_count: int

    @property
    def is_last(self) -> bool:
        return self.receive_count >= self.max_receive_count


class BodySource(Protocol):
    def get(self, body_key: str) -> str:
        """A stored body; LookupError if there is none."""
        ...


class ClaimedSend(NamedTuple):
    """A row this delivery has claimed, with its body: it may be sent now, and by no one else."""

    row: SendRow
    content: str
    attempt: Attempt

    @property
    def recipient(self) -> str:
        """The recipient as the suppression list knows it."""
        return recipient_key(self.row.email)


def claim_send(job: SendJob, attempt: Attempt, *, rows: SendRows, bodies: BodySource) -> ClaimedSend | SendOutcome:
    """Claim the row and read its body. An outcome instead when there is nothing to send: the row is
    final, or a dead worker's claim was settled as ERROR. Raises RetryLaterError to be delivered again."""
    claim = rows.claim(job.send_id, now_iso())
    if isinstance(claim, Missing):
        raise RetryLaterError(f"send {job.send_id} has no row yet (ingest still writing, or never will)")
    if isinstance(claim, NotClaimable):
        return _settle_unclaimable(claim.row, rows)
    content = claim.row.content
    if content is None:
        try:
            content = bodies.get(claim.row.body_key or "")
        except LookupError as exc:  # written before the message was queued: should never happen
            rows.release(claim.row, now_iso(), error=f"body not readable: {exc}")
            raise RetryLaterError(str(exc)) from exc
    return ClaimedSend(claim.row, content, attempt)


def send_claimed(
    claimed: ClaimedSend, suppressed: SuppressionReason | None, *, rows: SendRows, sender: ProviderChain
) -> SendOutcome:
    """Send a claimed row and record SENT or ERROR; or, if its recipient is suppressed (`suppressed`
    is why), record ERROR without sending. Raises RetryLaterError for a transient failure."""
    if suppressed is not None:
        reason = f"suppressed: {suppressed.value}"
        rows.finish(claimed.row, now_iso(), EmailStatus.ERROR, error=reason, error_kind=ErrorKind.SUPPRESSED)
        add_metric(METRIC_EMAILS_SUPPRESSED, MetricUnit.Count, 1)
        logger.info("send suppressed", extra={"reason": suppressed.value})
        return SendOutcome.SUPPRESSED
    return _deliver(claimed, rows=rows, sender=sender)


def give_back(claimed: ClaimedSend, reason: str, *, rows: SendRows) -> None:
    """Leave a claimed row unsent and have SQS deliver its message again (always raises
    RetryLaterError): the claim is released, or, on the last delivery, the row ends in ERROR
    (retries exhausted) as after a transient SES failure."""
    row = claimed.row
    if claimed.attempt.is_last:
        error = f"gave up after {row.claims} attempts: {reason}"
        rows.finish(row, now_iso(), EmailStatus.ERROR, error=error, error_kind=ErrorKind.RETRIES_EXHAUSTED)
    else:
        rows.release(row, now_iso(), error=reason)
    raise RetryLaterError(reason)


def _count_failure(kind: FailureKind, error: Exception) -> None:
    logger.warning("send failed", extra={"failureKind": kind, "error": str(error)})
    with single_metric(
        name=METRIC_EMAILS_FAILED, unit=MetricUnit.Count, value=1, namespace=metrics.namespace
    ) as metric:
        metric.add_dimension(name=DIMENSION_FAILURE_KIND, value=kind)


def _deliver(claimed: ClaimedSend, *, rows: SendRows, sender: ProviderChain) -> SendOutcome:
    row, content, attempt = claimed
    started = time.perf_counter()
    try:
        delivered = sender.send(
            send_id=row.send_id, batch_id=row.batch_id, to=row.email, subject=row.subject, body=content
        )
    except TransientSendError as exc:
        _count_failure(FailureKind.TRANSIENT, exc)
        if attempt.is_last:
            reason = f"gave up after {row.claims} attempts: {exc}"
            rows.finish(row, now_iso(), EmailStatus.ERROR, error=reason, error_kind=ErrorKind.RETRIES_EXHAUSTED)
        else:
            rows.release(row, now_iso(), error=str(exc))
        raise RetryLaterError(str(exc)) from exc
    except PermanentSendError as exc:
        _count_failure(FailureKind.PERMANENT, exc)
        rows.finish(row, now_iso(), EmailStatus.ERROR, error=str(exc), error_kind=ErrorKind.PERMANENT)
        return SendOutcome.FAILED
    except UnknownOutcomeError as exc:
        _count_failure(FailureKind.UNKNOWN_OUTCOME, exc)
        reason = f"outcome unknown, not retried: {exc}"
        rows.finish(row, now_iso(), EmailStatus.ERROR, error=reason, error_kind=ErrorKind.UNKNOWN_OUTCOME)
        return SendOutcome.FAILED
    add_metric(METRIC_SES_LATENCY, MetricUnit.Milliseconds, (time.perf_counter() - started) * 1000)
    add_metric(METRIC_EMAILS_SENT, MetricUnit.Count, 1)
    rows.finish(row, now_iso(), EmailStatus.SENT, provider=delivered.provider, provider_message_id=delivered.message_id)
    logger.info("email sent", extra={"provider": delivered.provider, "providerMessageId": delivered.message_id})
    return SendOutcome.SENT


def _settle_unclaimable(row: SendRow, rows: SendRows) -> SendOutcome:
    """A final row is done. A row claimed by another delivery is either in progress (retry later) or
    was abandoned by a worker that died mid-send: that one ends in ERROR, never in a second send."""
    if row.status in FINAL_STATUSES:
        return SendOutcome.ALREADY_FINAL
    assert row.claimed_at is not None
    stale_before = datetime.now(UTC) - timedelta(seconds=CLAIM_STALE_AFTER_SECONDS)
    if from_iso(row.claimed_at) > stale_before:
        raise RetryLaterError(f"send {row.send_id} is being sent by another delivery")
    if row.delivery is not None:
        # An SES event already named this send: SES accepted it before its worker died (or before the
        # worker's result write failed). The evidence settles it as SENT, a forward move.
        rows.finish(row, to_iso(datetime.now(UTC)), EmailStatus.SENT)
        return SendOutcome.SENT
    reason = f"worker stopped after claiming at {row.claimed_at}; outcome unknown, not resent"
    rows.finish(row, to_iso(datetime.now(UTC)), EmailStatus.ERROR, error=reason, error_kind=ErrorKind.UNKNOWN_OUTCOME)
    return SendOutcome.FAILED
