"""SES delivery events: each send learns what the mailbox provider said, and addresses that hard
bounced or complained go on the suppression list, so no later campaign mails them again.

Events come through SNS and SQS, at least once and in no fixed order; `SendRows.record_delivery` keeps
only the highest-ranked outcome, so a repeat or a late, lower event changes nothing. An event that
names no send of ours (another sender's message on the same configuration set, or a send whose row
expired) is logged and dropped: retrying it could never succeed.
"""

from enum import StrEnum
from typing import Protocol

from campaign.aws.send_rows import DeliveryWrite
from campaign.domain.delivery import DeliveryEvent, NotADeliveryEventError, parse_ses_event
from campaign.domain.models import SuppressionReason
from campaign.domain.status import DeliveryOutcome
from campaign.observability import logger


class EventOutcome(StrEnum):
    RECORDED = "recorded"
    # Repeated, or a lower outcome after a higher one: nothing changed.
    UNCHANGED = "unchanged"
    DROPPED = "dropped"


class DeliveryRows(Protocol):
    def record_delivery(self, event: DeliveryEvent) -> DeliveryWrite: ...


class SuppressionList(Protocol):
    def add(self, email_key: str, reason: SuppressionReason, source: str) -> bool: ...


def handle_delivery_event(body: str, *, rows: DeliveryRows, suppressions: SuppressionList) -> EventOutcome:
    try:
        event = parse_ses_event(body)
    except NotADeliveryEventError as exc:
        logger.warning("delivery event dropped: not one this service records", extra={"reason": str(exc)})
        return EventOutcome.DROPPED
    if event.send_id is None:
        logger.warning("delivery event dropped: it names no send", extra={"sesMessageId": event.message_id})
        return EventOutcome.DROPPED
    logger.append_keys(sendId=event.send_id)
    write = rows.record_delivery(event)
    if event.suppresses:
        # Even for a send no longer kept: a hard bounce or a complaint must stop later campaigns. The
        # row names the address as the CSV rules keep it (an internationalized domain as written).
        addresses = [write.recipient.lower()] if write.recipient else list(event.recipients)
        _suppress(event, addresses, suppressions)
    if write.recipient is None:
        logger.warning("delivery event dropped: no such send", extra={"delivery": event.outcome.value})
        return EventOutcome.DROPPED
    if write.updated is None:
        return EventOutcome.UNCHANGED
    logger.info("delivery recorded", extra={"delivery": event.outcome.value, "status": write.updated.status.value})
    return EventOutcome.RECORDED


def _suppress(event: DeliveryEvent, addresses: list[str], suppressions: SuppressionList) -> None:
    reason = (
        SuppressionReason.COMPLAINT if event.outcome is DeliveryOutcome.COMPLAINED else SuppressionReason.HARD_BOUNCE
    )
    source = f"ses {event.outcome.value.lower()} of message {event.message_id}"
    for address in addresses:
        suppressions.add(address, reason, source)
