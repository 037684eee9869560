"""Sending through the configured providers in order, each behind its circuit breaker.

A message goes to the first provider whose breaker admits it. A provider that certainly did not
accept the message (TransientSendError: throttled, unreachable, refused before the message was
handed over) hands the message to the next one, and counts a failure on its breaker unless it was
only throttled (a healthy provider asking us to slow down: the pace's business, not the breaker's). Nothing else
fails over: a permanent refusal is the message's own (another provider would refuse it too), and an
unknown outcome (the provider may have taken it) could become two emails.
"""

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from campaign.aws.email_gateway import EmailSender, ThrottledError, TransientSendError
from campaign.observability import (
    DIMENSION_PROVIDER,
    METRIC_BREAKER_OPENED,
    METRIC_EMAILS_SENT_VIA,
    METRIC_SENDS_FAILED_OVER,
    logger,
    metrics,
)


class Breakers(Protocol):
    """The fleet's shared circuit breakers (campaign/aws/breakers.py)."""

    def admits(self, provider: str) -> bool: ...

    def record_failure(self, provider: str) -> bool: ...

    def record_success(self, provider: str) -> bool: ...


class NamedSender(NamedTuple):
    name: str
    sender: EmailSender


class Delivered(NamedTuple):
    """Who took the message, and their id for it."""

    provider: str
    message_id: str | None


class NoProviderAdmitsError(TransientSendError):
    """Every provider's breaker is open (or refused the message): nothing was sent; try again later."""


def _count(name: str, provider: str) -> None:
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as metric:
        metric.add_dimension(name=DIMENSION_PROVIDER, value=provider)


class ProviderChain:
    def __init__(self, providers: Sequence[NamedSender], breakers: Breakers | None = None) -> None:
        self._providers = tuple(providers)
        self._breakers = breakers

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(provider.name for provider in self._providers)

    def send(self, *, send_id: str, batch_id: str, to: str, subject: str, body: str) -> Delivered:
        """Raises TransientSendError when no provider took the message (each refused it for certain, or
        none was admitted); PermanentSendError and UnknownOutcomeError come from the provider that tried."""
        refused: list[str] = []
        for place, (name, sender) in enumerate(self._providers):
            if self._breakers is not None and not self._breakers.admits(name):
                continue
            try:
                message_id = sender.send(send_id=send_id, batch_id=batch_id, to=to, subject=subject, body=body)
            except TransientSendError as exc:
                refused.append(f"{name}: {exc}")
                self._failed(name, exc, handed_on=place < len(self._providers) - 1)
                continue
            if self._breakers is not None and self._breakers.record_success(name):
                logger.info("provider recovered: its breaker closed", extra={"provider": name})
            _count(METRIC_EMAILS_SENT_VIA, name)
            return Delivered(name, message_id)
        if not refused:
            raise NoProviderAdmitsError("no provider is available: every circuit breaker is open")
        raise TransientSendError("; ".join(refused))

    def _failed(self, name: str, exc: TransientSendError, *, handed_on: bool) -> None:
        if handed_on:
            _count(METRIC_SENDS_FAILED_OVER, name)
        logger.warning(
            "provider refused the message", extra={"provider": name, "error": str(exc), "handedOn": handed_on}
        )
        if self._breakers is not None and not isinstance(exc, ThrottledError) and self._breakers.record_failure(name):
            _count(METRIC_BREAKER_OPENED, name)
            logger.error("provider's circuit breaker opened", extra={"provider": name})
