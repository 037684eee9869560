"""Deterministic ids, opaque page cursors, and the send status model."""

import base64
import itertools
import json
import string
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign.domain.cursor import InvalidCursorError, decode_cursor, encode_cursor, key_before
from campaign.domain.ids import batch_id_for, send_id_for
from campaign.domain.status import CLAIMABLE_STATUSES, FINAL_STATUSES, EmailStatus, can_move

FILE = b"email,subject,content\nann@example.com,Hello,Body\n"
BATCH = batch_id_for(FILE)
POSITION = "2026-11-24T18:00:57.123456Z#0123456789abcdef0123456789abcdef"
# The characters index sort keys are drawn from (see key_before's docstring).
KEY_ALPHABET = string.digits + string.ascii_letters + "#:.-"

# Index sort keys as the table writes them: "<createdAt>#<sendId>".
timestamps = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2999, 12, 31)).map(
    lambda dt: dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
)
send_ids = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
sort_keys = st.builds(lambda ts, sid: f"{ts}#{sid}", timestamps, send_ids)


def forge(payload: object) -> str:
    """A cursor built like the API builds one, around an arbitrary JSON payload."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def is_lower_hex(value: str, length: int) -> bool:
    return len(value) == length and all(c in "0123456789abcdef" for c in value)


# --- Batch and send ids ----------------------------------------------------------------------------


def test_batch_id_is_the_same_for_the_same_bytes() -> None:
    # Given the same file uploaded twice
    # When both are named
    first, second = batch_id_for(FILE), batch_id_for(bytes(FILE))
    # Then they collide on purpose, as 32 lowercase hex characters
    assert first == second
    assert is_lower_hex(first, 32)


@pytest.mark.parametrize(
    "other",
    [
        FILE.replace(b"Hello", b"Hellp"),
        FILE + b"\n",
        FILE.replace(b"\n", b"\r\n"),
        b"\xef\xbb\xbf" + FILE,
        b"",
    ],
    ids=["one-char", "trailing-newline", "crlf", "bom", "empty"],
)
def test_batch_id_changes_with_any_byte_of_the_file(other: bytes) -> None:
    # Given a file that differs from another in any byte, even invisibly
    # When both are named
    # Then the names differ
    assert batch_id_for(other) != BATCH


def test_send_id_is_the_same_for_the_same_batch_and_recipient() -> None:
    # Given the same (batch, recipient) pair seen twice, e.g. by a retried ingest
    # When both are named
    first, second = send_id_for(BATCH, "ann@example.com"), send_id_for(BATCH, "ann@example.com")
    # Then they are equal, as 32 lowercase hex characters
    assert first == second
    assert is_lower_hex(first, 32)


def test_send_id_is_distinct_per_recipient_and_per_batch() -> None:
    # Given several recipients in two batches
    recipients = ["ann@example.com", "bob@example.org", "carol@example.net", "ann@example.co"]
    batches = [BATCH, batch_id_for(FILE + b"\n")]
    # When every pair is named
    ids = [send_id_for(batch, key) for batch, key in itertools.product(batches, recipients)]
    # Then no two pairs share an id
    assert len(set(ids)) == len(ids)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_send_ids_differ_whenever_the_recipient_differs(a: str, b: str) -> None:
    # Given two recipient keys in the same batch
    # When both are named
    # Then the ids are equal exactly when the keys are
    assert (send_id_for(BATCH, a) == send_id_for(BATCH, b)) == (a == b)


# --- Cursors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "position",
    [
        POSITION,
        "2026-01-01T00:00:00.000000Z#00000000000000000000000000000000",
        "2099-12-31T23:59:59.999999Z#ffffffffffffffffffffffffffffffff",
    ],
)
def test_cursor_round_trips_its_position(position: str) -> None:
    # Given the position of a row
    # When it is encoded and decoded
    cursor = encode_cursor(position)
    # Then the same position comes back, from an opaque URL-safe token without padding
    assert decode_cursor(cursor) == position
    assert position not in cursor
    assert set(cursor) <= set(string.ascii_letters + string.digits + "-_")


@settings(max_examples=200, deadline=None)
@given(sort_keys)
def test_cursor_round_trips_any_sort_key(position: str) -> None:
    # Given any index sort key "<createdAt>#<sendId>"
    # When it is encoded and decoded
    # Then the same position comes back
    assert decode_cursor(encode_cursor(position)) == position


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor!",
        "%%%%",
        "Zm9v",  # base64 of "foo": not JSON
        "_-_-_-_-",  # base64 of bytes that are not UTF-8
        "é",
        forge([1, POSITION]),
        forge("just a string"),
        forge(None),
        forge({"k": POSITION}),
        forge({"v": 2, "k": POSITION}),
        forge({"v": "1", "k": POSITION}),
        forge({"v": 1}),
        forge({"v": 1, "k": 42}),
        forge({"v": 1, "k": None}),
        forge({"v": 1, "k": [POSITION]}),
        forge({"v": 1, "k": "a#b"}),
        forge({"v": 1, "k": "no-separator"}),
        forge({"v": 1, "k": POSITION.replace("#", "")}),
        forge({"v": 1, "k": POSITION.upper()}),
        forge({"v": 1, "k": POSITION[:-1]}),
        forge({"v": 1, "k": POSITION + "0"}),
        forge({"v": 1, "k": " " + POSITION}),
        forge({"v": 1, "k": POSITION + "\n"}),
        forge({"v": 1, "k": POSITION[:-1] + "\u0000"}),
        forge({"v": 1, "k": POSITION[:-1] + "é"}),
        forge({"v": 1, "k": "2026-11-24T18:00:57Z#0123456789abcdef0123456789abcdef"}),
        encode_cursor(POSITION)[:-3],
        encode_cursor(POSITION) + "A" * 200,
        base64.urlsafe_b64encode(b"[" * 100).decode(),
        base64.urlsafe_b64encode(b"[" * 100_000).decode(),
    ],
    ids=lambda cursor: repr(cursor if len(cursor) < 40 else cursor[:37] + "..."),
)
def test_garbage_or_forged_cursor_raises_invalid_cursor_error(cursor: str) -> None:
    # Given a cursor the API did not issue: not base64, not JSON, another version, a position that is
    # not a sort key, truncated, padded, oversized, or deeply nested JSON
    # When it is decoded
    # Then it is refused as InvalidCursorError (a ValueError), never with another error
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=250) | st.binary(max_size=180).map(lambda raw: base64.urlsafe_b64encode(raw).decode()))
def test_decoding_arbitrary_text_gives_a_sort_key_or_raises_invalid_cursor_error(cursor: str) -> None:
    # Given any text at all, or the base64 of any bytes
    # When it is decoded as a cursor
    try:
        position = decode_cursor(cursor)
    except InvalidCursorError:
        return
    # Then a decoded position is an ASCII sort key that key_before can bound
    assert position.isascii()
    assert "#" in position
    assert key_before(position) < position


@settings(max_examples=200, deadline=None)
@given(sort_keys)
def test_any_issued_cursor_can_be_turned_into_a_bound(position: str) -> None:
    # Given a cursor the API issued
    cursor = encode_cursor(position)
    # When it is decoded and bounded, as list_sends does
    bound = key_before(decode_cursor(cursor))
    # Then the bound sorts below the position
    assert bound < position


def test_forged_cursor_with_non_ascii_digits_raises_invalid_cursor_error() -> None:
    # Given a forged cursor whose year is written in Arabic-Indic digits
    cursor = forge({"v": 1, "k": "\u0662\u0660\u0662\u0666" + POSITION[4:]})
    # When it is decoded
    # Then it is refused as InvalidCursorError
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor)


# --- key_before ------------------------------------------------------------------------------------


@st.composite
def key_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """A position and another key that often shares a long prefix with it (where bugs hide)."""
    position = draw(sort_keys)
    other = draw(
        sort_keys
        | st.builds(
            lambda cut, tail: position[:cut] + tail,
            st.integers(0, len(position)),
            st.text(alphabet=KEY_ALPHABET, max_size=len(position) + 2),
        )
    )
    return position, other


def test_key_before_example() -> None:
    # Given a position
    # When the bound below it is taken
    bound = key_before(POSITION)
    # Then the last character steps down one and "~" tops up the rest
    assert bound == POSITION[:-1] + "e~"


@settings(max_examples=200, deadline=None)
@given(sort_keys)
def test_key_before_sorts_strictly_below_the_position(position: str) -> None:
    # Given a sort key "<createdAt>#<sendId>"
    # When the bound below it is taken
    # Then the bound sorts strictly before it
    assert key_before(position) < position


@settings(max_examples=200, deadline=None)
@given(key_pairs())
def test_key_before_sorts_above_every_key_below_the_position(pair: tuple[str, str]) -> None:
    # Given a position and any other key from the key alphabet
    position, other = pair
    # When the bound below the position is taken
    bound = key_before(position)
    # Then the keys at or below the bound are exactly the keys strictly before the position
    assert (other <= bound) == (other < position)


@pytest.mark.parametrize("last", list(KEY_ALPHABET))
def test_key_before_works_for_every_last_character(last: str) -> None:
    # Given a position ending in any key character
    position = "2026-11-24T18:00:57.123456Z#" + last
    # When the bound below it is taken
    bound = key_before(position)
    # Then it sorts below the position and above every key character in that place
    assert bound < position
    assert all(position[:-1] + c <= bound for c in KEY_ALPHABET if c < last)


# --- Status transitions ----------------------------------------------------------------------------

# PENDING -> QUEUED -> (SENT | ERROR); skipping QUEUED is allowed (a direct send), going back is not.
RANK = {EmailStatus.PENDING: 0, EmailStatus.QUEUED: 1, EmailStatus.SENT: 2, EmailStatus.ERROR: 2}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(EmailStatus, repeat=2)), ids=str)
def test_statuses_only_move_forward(current: EmailStatus, target: EmailStatus) -> None:
    # Given any pair of statuses
    # When a move from one to the other is asked for
    allowed = can_move(current, target)
    # Then it is allowed exactly when it goes strictly forward
    assert allowed == (RANK[target] > RANK[current])


@pytest.mark.parametrize("final", sorted(FINAL_STATUSES))
def test_final_statuses_never_move(final: EmailStatus) -> None:
    # Given a final status
    # When any move is asked for
    # Then none is allowed, not even to the other final status or to itself
    assert not any(can_move(final, target) for target in EmailStatus)


def test_final_statuses_are_sent_and_error() -> None:
    # Given the status model
    # When its final statuses are listed
    # Then they are SENT and ERROR
    assert {EmailStatus.SENT, EmailStatus.ERROR} == FINAL_STATUSES


def test_claimable_statuses_are_exactly_the_non_final_ones() -> None:
    # Given the status model
    # When the claimable statuses are listed
    # Then they are every status that can still move
    assert set(EmailStatus) - FINAL_STATUSES == CLAIMABLE_STATUSES
    assert all(any(can_move(s, t) for t in EmailStatus) for s in CLAIMABLE_STATUSES)
