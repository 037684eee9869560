"""Deterministic identifiers: the same file gives the same batch, the same recipient the same send."""

import hashlib
import re

_BATCH_ID_HEX = 32
_SEND_ID_HEX = 32
# What a batch id looks like, for code that receives one from outside (a URL path, an S3 key).
BATCH_ID_PATTERN = f"[0-9a-f]{{{_BATCH_ID_HEX}}}"
_BATCH_ID = re.compile(BATCH_ID_PATTERN)


def is_batch_id(text: str) -> bool:
    return _BATCH_ID.fullmatch(text) is not None


def batch_id_for(content: bytes) -> str:
    """A batch is named by its file's bytes, so re-uploads and concurrent uploads collide on purpose."""
    return batch_id_for_digest(hashlib.sha256(content).hexdigest())


def send_id_for(batch_id: str, email_key: str) -> str:
    """One send per (batch, recipient): a retried ingest rewrites the same keys instead of new ones."""
    return hashlib.sha256(f"{batch_id}:{email_key}".encode()).hexdigest()[:_SEND_ID_HEX]


def batch_id_for_digest(sha256_hex: str) -> str:
    """The batch a file will have, from its SHA-256 alone: a large upload is reserved before it is sent."""
    return sha256_hex.lower()[:_BATCH_ID_HEX]
