"""One-click unsubscribe (RFC 8058): a token from a message's link suppresses its recipient.

The token is the credential (campaign/domain/unsubscribe.py): it names a send, and only the holder of
the key could have made it for that send's batch and recipient. The send's row says who the recipient
is; the suppression list takes the address (reason UNSUBSCRIBED), so every later upload skips it and
a worker about to send to it stops. Repeating the request changes nothing.
"""

from typing import NamedTuple, Protocol

from campaign.domain.models import SendRow, SuppressionReason
from campaign.domain.unsubscribe import parse_token, token_names


class InvalidTokenError(ValueError):
    """The token is not one this service issued (malformed, tampered, or for a send no longer kept)."""


class SendLookup(Protocol):
    def get(self, send_id: str) -> SendRow | None: ...


class SuppressionList(Protocol):
    def add(self, email_key: str, reason: SuppressionReason, source: str) -> bool: ...


class Unsubscribed(NamedTuple):
    email: str
    # False when the address was on the list already (a repeated click, or suppressed for another reason).
    newly: bool


def recipient_of(token: str, *, rows: SendLookup, key: bytes) -> SendRow:
    """The send a token was issued for; InvalidTokenError if it was not issued by this service."""
    parts = parse_token(token)
    row = rows.get(parts.send_id) if parts is not None else None
    if parts is None or row is None or not token_names(key, parts, row.batch_id, row.email.lower()):
        raise InvalidTokenError("the unsubscribe link is not valid: it was changed, or is older than the retention")
    return row


def unsubscribe(token: str, *, rows: SendLookup, suppressions: SuppressionList, key: bytes) -> Unsubscribed:
    row = recipient_of(token, rows=rows, key=key)
    newly = suppressions.add(
        row.email.lower(), SuppressionReason.UNSUBSCRIBED, f"one-click unsubscribe, send {row.send_id}"
    )
    return Unsubscribed(row.email, newly)
