"""SES's mailbox simulator, played locally: the events SES would publish for a message sent to one of
its simulator addresses, in SES's own JSON (as SNS delivers it to the events queue with raw message
delivery), so the local stack exercises the same event consumer as the deployed worker.

`success@simulator.amazonses.com` is delivered; `bounce@…` hard-bounces; `complaint@…` is delivered,
then complained about; `suppressionlist@…` bounces as an address on SES's suppression list; `ooto@…`
is delivered (SES also sends an auto-reply to the sender, which the local stack does not play). A
`+label` after the local part is allowed, as with SES. Other addresses produce no event.
"""

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from campaign.aws.clients import client

SIMULATOR_DOMAIN = "simulator.amazonses.com"


def simulator_events(*, recipient: str, sender: str, send_id: str | None, message_id: str) -> list[str]:
    """The SES events (JSON texts) for a message to `recipient`; none unless it is a simulator address."""
    local, _, domain = recipient.lower().partition("@")
    if domain != SIMULATOR_DOMAIN:
        return []
    kind = local.split("+", 1)[0]
    mail = _mail(recipient, sender, send_id, message_id)
    now = _now()
    delivered = {"eventType": "Delivery", "mail": mail, "delivery": {"timestamp": now, "recipients": [recipient]}}
    if kind in ("success", "ooto"):
        return [json.dumps(delivered)]
    if kind == "bounce":
        return [json.dumps(_bounce(mail, recipient, now, "General", "smtp; 550 5.1.1 user unknown"))]
    if kind == "suppressionlist":
        return [json.dumps(_bounce(mail, recipient, now, "OnAccountSuppressionList", "Amazon SES suppression list"))]
    if kind == "complaint":
        complaint = {
            "complainedRecipients": [{"emailAddress": recipient}],
            "timestamp": now,
            "complaintFeedbackType": "abuse",
        }
        return [json.dumps(delivered), json.dumps({"eventType": "Complaint", "mail": mail, "complaint": complaint})]
    return []


def _mail(recipient: str, sender: str, send_id: str | None, message_id: str) -> dict[str, Any]:
    return {
        "timestamp": _now(),
        "source": sender,
        "messageId": message_id,
        "destination": [recipient],
        "tags": {"sendId": [send_id]} if send_id else {},
    }


def _bounce(mail: dict[str, Any], recipient: str, now: str, subtype: str, diagnostic: str) -> dict[str, Any]:
    return {
        "eventType": "Bounce",
        "mail": mail,
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": subtype,
            "bouncedRecipients": [{"emailAddress": recipient, "diagnosticCode": diagnostic}],
            "timestamp": now,
        },
    }


def _now() -> str:
    """SES's timestamp format: milliseconds, UTC."""
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class SimulatorRelay:
    """What SES does after the local mailbox takes a message: for simulator addresses, its events go
    onto the events queue (by name: the queue is created after the mailbox starts)."""

    def __init__(self, queue_name: str) -> None:
        self._queue_name = queue_name
        self._queue_url: str | None = None

    def __call__(self, *, sender: str, recipients: Iterable[str], send_id: str | None, message_id: str) -> int:
        """Relays the events of one message; returns how many."""
        events = [
            event
            for recipient in recipients
            for event in simulator_events(recipient=recipient, sender=sender, send_id=send_id, message_id=message_id)
        ]
        if events:
            sqs = client("sqs")
            if self._queue_url is None:
                self._queue_url = str(sqs.get_queue_url(QueueName=self._queue_name)["QueueUrl"])
            for event in events:
                sqs.send_message(QueueUrl=self._queue_url, MessageBody=event)
        return len(events)
