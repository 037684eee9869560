"""Opaque page cursors for listings ordered by the index sort key "<createdAt>#<sendId>".

A cursor is the position of the last row returned, not a per-index DynamoDB key, so it stays valid
when rows change status (and index partition) between pages: nothing repeats and nothing is dropped.
"""

import base64
import binascii
import json
import re

_VERSION = 1
# Exactly the shape of an index sort key: "<createdAt>#<sendId>" (see campaign.aws.table_schema).
_POSITION = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z#[0-9a-f]{32}")
_MAX_CURSOR_CHARS = 200


class InvalidCursorError(ValueError):
    pass


def encode_cursor(position: str) -> str:
    raw = json.dumps({"v": _VERSION, "k": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    if len(cursor) > _MAX_CURSOR_CHARS:
        raise InvalidCursorError("the cursor is not one this API issued")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidCursorError("the cursor is not one this API issued") from exc
    position = data.get("k") if isinstance(data, dict) and data.get("v") == _VERSION else None
    if not isinstance(position, str) or not _POSITION.fullmatch(position):
        raise InvalidCursorError("the cursor is not one this API issued")
    return position


def key_before(position: str) -> str:
    """The greatest bound below `position` for keys drawn from [0-9A-Za-z#:.-] (DynamoDB BETWEEN is
    inclusive, so "strictly before the cursor" needs such a bound)."""
    return position[:-1] + chr(ord(position[-1]) - 1) + "~"
