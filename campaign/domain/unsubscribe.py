"""One-click unsubscribe tokens (RFC 8058): the credential in each message's unsubscribe link.

A token is the send's id and an HMAC-SHA256, under a secret key, over the send, its batch and its
recipient. It holds no address (the server reads the send's row to learn whom it names) and cannot be
forged or enumerated without the key: send ids are hashes, and a token for one send proves nothing
about another. A link works while its send's row is kept (the retention).
"""

import base64
import hashlib
import hmac
import re
from typing import NamedTuple
from urllib.parse import quote

_SEND_ID_HEX = 32
_MAC_CHARS = 32  # 192 bits of the HMAC, base64url
_TOKEN = re.compile(rf"(?P<send>[0-9a-f]{{{_SEND_ID_HEX}}})\.(?P<mac>[A-Za-z0-9_-]{{{_MAC_CHARS}}})")
_SEPARATOR = "\x1f"


class TokenParts(NamedTuple):
    send_id: str
    mac: str


def _mac(key: bytes, send_id: str, batch_id: str, email_key: str) -> str:
    signed = _SEPARATOR.join(("unsubscribe", send_id, batch_id, email_key)).encode()
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:_MAC_CHARS]


def unsubscribe_token(key: bytes, send_id: str, batch_id: str, email_key: str) -> str:
    return f"{send_id}.{_mac(key, send_id, batch_id, email_key)}"


def parse_token(token: str) -> TokenParts | None:
    """The token's parts, or None if it is not shaped like one this service issues."""
    match = _TOKEN.fullmatch(token)
    return None if match is None else TokenParts(match["send"], match["mac"])


def token_names(key: bytes, parts: TokenParts, batch_id: str, email_key: str) -> bool:
    """Whether the token was issued for this send's batch and recipient (constant-time compare)."""
    return hmac.compare_digest(parts.mac, _mac(key, parts.send_id, batch_id, email_key))


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url}?t={quote(token, safe='')}"
