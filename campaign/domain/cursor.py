"""Opaque page cursors: a position in the listing order, bound to the filters it was issued for
(and, apart, a position in the suppression list).

The listing order is batches newest first, then each batch's rows by position (`seq`). A cursor is
the position where the next page starts (a batch, by its creation time and id, and a `seq` in it),
not a per-index DynamoDB key, so it stays valid when rows change status (and index partition)
between pages: nothing repeats and nothing is dropped. It also carries a digest of the filters, and
a cursor presented with other filters is refused rather than silently continuing a different walk.
"""

import base64
import binascii
import hashlib
import json
import re
from typing import NamedTuple

_VERSION = 2
_CREATED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_BATCH = re.compile(r"[0-9a-f]{32}")
_DIGEST = re.compile(r"[0-9a-f]{16}")
_MAX_CURSOR_CHARS = 300
_MAX_SEQ = 10**9
_MAX_BATCHES = 100


class InvalidCursorError(ValueError):
    pass


class Position(NamedTuple):
    """Where a page starts: row `seq` of the batch created at `created_at` with id `batch_id`."""

    created_at: str
    batch_id: str
    seq: int


class Cursor(NamedTuple):
    """A position, and how many batch summaries the next page should read (learned from the last
    page: small batches need more of them)."""

    position: Position
    batches: int


def filter_digest(*parts: object) -> str:
    """A short digest of a listing's filters, in a canonical form the caller chooses."""
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]


def encode_cursor(cursor: Cursor, filters: str) -> str:
    position = cursor.position
    data = {
        "v": _VERSION,
        "t": position.created_at,
        "b": position.batch_id,
        "s": position.seq,
        "k": cursor.batches,
        "f": filters,
    }
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, filters: str) -> Cursor:
    """What a cursor holds; InvalidCursorError if this API did not issue it, or issued it for other
    filters."""
    if len(cursor) > _MAX_CURSOR_CHARS:
        raise InvalidCursorError("the cursor is not one this API issued")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidCursorError("the cursor is not one this API issued") from exc
    if not _well_formed(data):
        raise InvalidCursorError("the cursor is not one this API issued")
    if data["f"] != filters:
        raise InvalidCursorError(
            "the cursor was issued for other filters: repeat the query with the filters of the page it came from"
        )
    return Cursor(Position(created_at=data["t"], batch_id=data["b"], seq=data["s"]), batches=data["k"])


# A page of the suppression list starts after a position in its order (`<at>#<address>`, newest
# first); the cursor holds that position and nothing else (the list has no filters).
_SUPPRESSION_LIST = "suppressions"
_MAX_SUPPRESSION_CURSOR_CHARS = 2048
_SUPPRESSION_ORDER = re.compile(rf"{_CREATED.pattern}#[^\x00-\x20]{{1,254}}")


def encode_suppression_cursor(order: str) -> str:
    raw = json.dumps({"l": _SUPPRESSION_LIST, "o": order}, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_suppression_cursor(cursor: str) -> str:
    """The position a suppression-list cursor holds; InvalidCursorError if this API did not issue it."""
    if len(cursor) > _MAX_SUPPRESSION_CURSOR_CHARS:
        raise InvalidCursorError("the cursor is not one this API issued")
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidCursorError("the cursor is not one this API issued") from exc
    order = data.get("o") if isinstance(data, dict) and data.get("l") == _SUPPRESSION_LIST else None
    if not isinstance(order, str) or _SUPPRESSION_ORDER.fullmatch(order) is None:
        raise InvalidCursorError("the cursor is not one this API issued")
    return order


def _well_formed(data: object) -> bool:
    if not isinstance(data, dict) or data.get("v") != _VERSION:
        return False
    created, batch, seq, digest, batches = data.get("t"), data.get("b"), data.get("s"), data.get("f"), data.get("k")
    return (
        type(batches) is int
        and 1 <= batches <= _MAX_BATCHES
        and isinstance(created, str)
        and _CREATED.fullmatch(created) is not None
        and isinstance(batch, str)
        and _BATCH.fullmatch(batch) is not None
        and type(seq) is int
        and 0 <= seq < _MAX_SEQ
        and isinstance(digest, str)
        and _DIGEST.fullmatch(digest) is not None
    )
