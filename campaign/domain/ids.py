"""Deterministic identifiers: the same file gives the same batch, the same recipient the same send,
and the same message (recipient, subject, content) the same message key whatever file it comes in."""

import hashlib
import re

_BATCH_ID_HEX = 32
_SEND_ID_HEX = 32
_MESSAGE_KEY_HEX = 32
_BODY_KEY_HEX = 32
# What a batch id looks like, for code that receives one from outside (a URL path, an S3 key).
BATCH_ID_PATTERN = f"[0-9a-f]{{{_BATCH_ID_HEX}}}"
_BATCH_ID = re.compile(BATCH_ID_PATTERN)
# The same, in words, for the errors that refuse a malformed one.
BATCH_ID_FORMAT = f"{_BATCH_ID_HEX} lowercase hexadecimal characters"
_SEND_ID = re.compile(f"[0-9a-f]{{{_SEND_ID_HEX}}}")
# The header every message carries with its send id (campaign/domain/message.py); SES echoes a
# message's headers in its events, so an event can name its send even without the message tag.
SEND_ID_HEADER = "X-Campaign-Send-Id"
# Fields of a hashed identity are joined by a character no CSV cell of ours can hold unescaped.
_SEPARATOR = "\x1f"


def is_batch_id(text: str) -> bool:
    return _BATCH_ID.fullmatch(text) is not None


def is_send_id(text: str) -> bool:
    return _SEND_ID.fullmatch(text) is not None


def batch_id_for(content: bytes) -> str:
    """A batch is named by its file's bytes, so re-uploads and concurrent uploads collide on purpose."""
    return batch_id_for_digest(hashlib.sha256(content).hexdigest())


def send_id_for(batch_id: str, email_key: str) -> str:
    """One send per (batch, recipient): a retried ingest rewrites the same keys instead of new ones."""
    return hashlib.sha256(f"{batch_id}:{email_key}".encode()).hexdigest()[:_SEND_ID_HEX]


def resend_id_for(send_id: str) -> str:
    """The send an operator's dead-letter re-drive creates for a send that never reached SES: derived
    from the original, so a re-drive that is run again finds the same one."""
    return hashlib.sha256(f"resend:{send_id}".encode()).hexdigest()[:_SEND_ID_HEX]


def batch_id_for_digest(sha256_hex: str) -> str:
    """The batch a file will have, from its SHA-256 alone: a large upload is reserved before it is sent."""
    return sha256_hex.lower()[:_BATCH_ID_HEX]


def normalize_newlines(text: str) -> str:
    """A spreadsheet that saves a file again may turn LF into CRLF inside quoted cells; the message is
    the same, so its key must be too."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def message_key_for(email_key: str, subject: str, content: str) -> str:
    """The idempotency key of a send: what is sent to whom, not which file it came in.

    `email_key` is the recipient as duplicate detection in a file compares it (normalized, lower
    case); the subject as accepted (trimmed); the content with its line endings normalized.
    """
    identity = _SEPARATOR.join((email_key, subject, normalize_newlines(content)))
    return hashlib.sha256(identity.encode()).hexdigest()[:_MESSAGE_KEY_HEX]


def body_key_for(batch_id: str, content: str) -> str:
    """A stored body is shared by the rows of one batch that carry the same content, so a file that
    sends one body to everyone stores (and pays for) it once."""
    return hashlib.sha256(f"{batch_id}{_SEPARATOR}{content}".encode()).hexdigest()[:_BODY_KEY_HEX]
