"""What mailbox providers said about a sent message, as SES publishes it (configuration-set events).

A send's `delivery` outcome only moves forward, by rank: a delay may be followed by a delivery, a
delivery by a complaint; a bounce or a rejection ends it. So events that arrive twice or out of order
(SNS and SQS deliver at least once, in no fixed order) leave the outcome where the latest fact put it.
An event names its send through the `sendId` message tag the sender sets (campaign/aws/email_gateway.py),
or failing that the `X-Campaign-Send-Id` header (campaign/domain/message.py) SES echoes back.
"""

import json
from typing import Any, NamedTuple

from campaign.domain.ids import SEND_ID_HEADER
from campaign.domain.status import DeliveryOutcome

_EVENT_TYPES = {
    "Delivery": DeliveryOutcome.DELIVERED,
    "Bounce": DeliveryOutcome.BOUNCED,
    "Complaint": DeliveryOutcome.COMPLAINED,
    "Reject": DeliveryOutcome.REJECTED,
    "DeliveryDelay": DeliveryOutcome.DELAYED,
}
# SES's bounce type for a bounce that will happen again (the address does not exist, or the provider
# blocks it): the address is suppressed. A "Transient" (soft) or "Undetermined" one is not.
PERMANENT_BOUNCE = "Permanent"


class DeliveryEvent(NamedTuple):
    send_id: str | None
    outcome: DeliveryOutcome
    at: str
    recipients: tuple[str, ...]
    bounce_type: str | None = None
    bounce_subtype: str | None = None
    # SES's id of the message and, for bounces and complaints, of the feedback: for the logs.
    message_id: str | None = None

    @property
    def suppresses(self) -> bool:
        """Whether the recipients go on the suppression list: a hard bounce or a complaint."""
        hard = self.outcome is DeliveryOutcome.BOUNCED and self.bounce_type == PERMANENT_BOUNCE
        return hard or self.outcome is DeliveryOutcome.COMPLAINED


class NotADeliveryEventError(ValueError):
    """A message on the events queue that is not an SES event this service handles."""


def parse_ses_event(body: str) -> DeliveryEvent:
    """An SES event as SNS delivers it: the event JSON itself (raw message delivery) or wrapped in an
    SNS notification. NotADeliveryEventError for anything else (Send, Open, Click, junk)."""
    try:
        event = json.loads(body)
        if isinstance(event, dict) and event.get("Type") == "Notification":
            event = json.loads(event["Message"])
    except (ValueError, KeyError, TypeError) as exc:
        raise NotADeliveryEventError(f"not JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise NotADeliveryEventError("not an event object")
    kind = event.get("eventType") or event.get("notificationType")
    outcome = _EVENT_TYPES.get(str(kind))
    if outcome is None:
        raise NotADeliveryEventError(f"event type {kind!r} is not one this service records")
    mail: dict[str, Any] = event.get("mail") or {}
    detail: dict[str, Any] = event.get(_detail_key(outcome)) or {}
    bounce = event.get("bounce") or {}
    return DeliveryEvent(
        send_id=_send_id(mail),
        outcome=outcome,
        at=str(detail.get("timestamp") or mail.get("timestamp") or ""),
        recipients=_recipients(outcome, detail, mail),
        bounce_type=bounce.get("bounceType"),
        bounce_subtype=bounce.get("bounceSubType"),
        message_id=mail.get("messageId"),
    )


def _detail_key(outcome: DeliveryOutcome) -> str:
    return {
        DeliveryOutcome.DELIVERED: "delivery",
        DeliveryOutcome.BOUNCED: "bounce",
        DeliveryOutcome.COMPLAINED: "complaint",
        DeliveryOutcome.REJECTED: "reject",
        DeliveryOutcome.DELAYED: "deliveryDelay",
    }[outcome]


def _send_id(mail: dict[str, Any]) -> str | None:
    tagged = (mail.get("tags") or {}).get("sendId") or []
    if tagged:
        return str(tagged[0])
    for header in mail.get("headers") or []:
        if str(header.get("name", "")).lower() == SEND_ID_HEADER.lower():
            return str(header.get("value"))
    return None


def _recipients(outcome: DeliveryOutcome, detail: dict[str, Any], mail: dict[str, Any]) -> tuple[str, ...]:
    listed = {
        DeliveryOutcome.BOUNCED: [r.get("emailAddress") for r in detail.get("bouncedRecipients") or []],
        DeliveryOutcome.COMPLAINED: [r.get("emailAddress") for r in detail.get("complainedRecipients") or []],
        DeliveryOutcome.DELAYED: [r.get("emailAddress") for r in detail.get("delayedRecipients") or []],
        DeliveryOutcome.DELIVERED: list(detail.get("recipients") or []),
        DeliveryOutcome.REJECTED: [],
    }[outcome]
    found = [str(r).lower() for r in listed if r] or [str(r).lower() for r in mail.get("destination") or []]
    return tuple(found)
