"""Deterministic ids, opaque page cursors, and the send status model."""

import base64
import itertools
import json
import string
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign.domain.cursor import Cursor, InvalidCursorError, Position, decode_cursor, encode_cursor, filter_digest
from campaign.domain.ids import batch_id_for, body_key_for, message_key_for, resend_id_for, send_id_for
from campaign.domain.status import (
    CLAIMABLE_STATUSES,
    FINAL_STATUSES,
    EmailStatus,
    ListingClass,
    can_move,
    listing_class,
)
from tests.support.hypothesis_profiles import examples

FILE = b"email,subject,content\nann@example.com,Hello,Body\n"
BATCH = batch_id_for(FILE)


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


@settings(max_examples=examples(200), deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_send_ids_differ_whenever_the_recipient_differs(a: str, b: str) -> None:
    # Given two recipient keys in the same batch
    # When both are named
    # Then the ids are equal exactly when the keys are
    assert (send_id_for(BATCH, a) == send_id_for(BATCH, b)) == (a == b)


# --- Message keys ----------------------------------------------------------------------------------


def test_message_key_is_the_same_for_the_same_recipient_subject_and_content() -> None:
    # When the same recipient, subject and content are keyed twice, then the keys are equal
    assert message_key_for("ann@example.com", "Hello", "Body") == message_key_for("ann@example.com", "Hello", "Body")


@pytest.mark.parametrize(
    "changed",
    [
        ("bob@example.com", "Hello", "Body"),
        ("ann@example.com", "Hello!", "Body"),
        ("ann@example.com", "Hello", "Body."),
    ],
    ids=["recipient", "subject", "content"],
)
def test_message_key_changes_with_recipient_subject_or_content(changed: tuple[str, str, str]) -> None:
    # When one of recipient, subject or content changes, then the message key changes
    assert message_key_for(*changed) != message_key_for("ann@example.com", "Hello", "Body")


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_message_key_ignores_how_a_spreadsheet_ends_lines_inside_a_cell(ending: str) -> None:
    # Given a cell's content keyed with LF line ends
    lf = message_key_for("ann@example.com", "Hello", "Line one\nLine two\n")
    # When the same content with CRLF or CR line ends is keyed, then its key is the same
    assert message_key_for("ann@example.com", "Hello", f"Line one{ending}Line two{ending}") == lf


def test_message_key_fields_cannot_run_into_each_other() -> None:
    # Given two messages whose subject and content split the same characters differently
    # When both are keyed, then the keys differ
    assert message_key_for("a@example.com", "ab", "c") != message_key_for("a@example.com", "a", "bc")


def test_body_key_is_per_batch_and_content() -> None:
    # When a body is keyed twice for the same batch and content, then the keys are equal; when the batch or the content
    # changes, the key does
    assert body_key_for("b1", "Body") == body_key_for("b1", "Body")
    assert body_key_for("b1", "Body") != body_key_for("b2", "Body")
    assert body_key_for("b1", "Body") != body_key_for("b1", "Other")


def test_resend_id_is_derived_from_the_send_and_is_a_send_id() -> None:
    # Given a send id
    send_id = send_id_for(BATCH, "ann@example.com")
    # When a resend id is derived from it, twice, then it is the same each time, differs from the send id, and has a
    # send id's form
    assert resend_id_for(send_id) == resend_id_for(send_id) != send_id
    assert is_lower_hex(resend_id_for(send_id), 32)


# --- Cursors ---------------------------------------------------------------------------------------

FILTERS = filter_digest("SENT", None, None, None)
positions = st.builds(
    Position,
    created_at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2999, 12, 31)).map(
        lambda dt: dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ),
    batch_id=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    seq=st.integers(min_value=0, max_value=10**9 - 1),
)
cursors = st.builds(Cursor, position=positions, batches=st.integers(min_value=1, max_value=100))
POSITION = Position("2026-11-24T18:00:57.123456Z", "0123456789abcdef0123456789abcdef", 42)
GOOD = {"v": 2, "t": POSITION.created_at, "b": POSITION.batch_id, "s": 42, "k": 3, "f": FILTERS}


@settings(max_examples=examples(200), deadline=None)
@given(cursors)
def test_cursor_round_trips_its_position(cursor: Cursor) -> None:
    # Given where a page starts
    # When it is encoded and decoded for the same filters
    token = encode_cursor(cursor, FILTERS)
    # Then the same position comes back, from an opaque URL-safe token without padding
    assert decode_cursor(token, FILTERS) == cursor
    assert cursor.position.batch_id not in token
    assert set(token) <= set(string.ascii_letters + string.digits + "-_")


def test_a_cursor_presented_with_other_filters_is_refused_with_a_message_that_says_so() -> None:
    # Given a cursor issued for one set of filters
    token = encode_cursor(Cursor(POSITION, 3), FILTERS)
    # When it is decoded with other filters
    # Then it is refused, saying the filters differ
    with pytest.raises(InvalidCursorError, match="other filters"):
        decode_cursor(token, filter_digest("ERROR", None, None, None))


def test_the_filter_digest_tells_filters_apart() -> None:
    # Given filters that differ in status, any one bound, the batch, or the number of fields
    digests = [
        filter_digest("SENT", None, None, None),
        filter_digest("SENT", "2026", None, None),
        filter_digest("SENT", None, "2026", None),
        filter_digest("SENT", None, None, "b"),
        filter_digest("ERROR", None, None, None),
        filter_digest("ERROR", "SENT", None, None, None),
    ]
    # When each is digested, then no two digests are the same
    assert len(set(digests)) == len(digests)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor!",
        "%%%%",
        "Zm9v",  # base64 of "foo": not JSON
        "_-_-_-_-",  # base64 of bytes that are not UTF-8
        "é",
        forge([1, 2]),
        forge("just a string"),
        forge(None),
        forge(GOOD | {"v": 1}),
        forge(GOOD | {"v": "2"}),
        forge({k: v for k, v in GOOD.items() if k != "t"}),
        forge(GOOD | {"t": "2026-11-24T18:00:57Z"}),
        forge(GOOD | {"t": "\u0662\u0660\u0662\u0666" + POSITION.created_at[4:]}),
        forge(GOOD | {"b": POSITION.batch_id.upper()}),
        forge(GOOD | {"b": POSITION.batch_id + "0"}),
        forge(GOOD | {"b": "x" * 600}),
        forge(GOOD | {"s": -1}),
        forge(GOOD | {"s": 10**9}),
        forge(GOOD | {"s": 1.5}),
        forge(GOOD | {"s": True}),
        forge(GOOD | {"s": "42"}),
        forge(GOOD | {"k": 0}),
        forge(GOOD | {"k": 101}),
        forge(GOOD | {"f": "short"}),
        encode_cursor(Cursor(POSITION, 3), FILTERS)[:-3],
        encode_cursor(Cursor(POSITION, 3), FILTERS) + "A" * 300,
        base64.urlsafe_b64encode(b"[" * 100).decode(),
        base64.urlsafe_b64encode(b"[" * 100_000).decode(),
    ],
    ids=lambda cursor: repr(cursor if len(cursor) < 40 else cursor[:37] + "..."),
)
def test_garbage_or_forged_cursor_raises_invalid_cursor_error(cursor: str) -> None:
    # Given a cursor the API did not issue: not base64, not JSON, another version, a position that is
    # not one, truncated, padded, oversized, or deeply nested JSON
    # When it is decoded
    # Then it is refused as InvalidCursorError (a ValueError), never with another error
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor, FILTERS)


@settings(max_examples=examples(200), deadline=None)
@given(st.text(max_size=300) | st.binary(max_size=220).map(lambda raw: base64.urlsafe_b64encode(raw).decode()))
def test_decoding_arbitrary_text_gives_a_position_or_raises_invalid_cursor_error(cursor: str) -> None:
    # Given any text at all, or the base64 of any bytes
    # When it is decoded as a cursor
    try:
        decoded = decode_cursor(cursor, FILTERS)
    except InvalidCursorError:
        return
    # Then what comes back is a well-formed position
    assert decoded.position.created_at.isascii() and decoded.position.seq >= 0


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


def test_a_status_change_only_ever_moves_a_row_from_the_open_listing_class_to_a_final_one() -> None:
    # Given every move the status model allows
    moves = [(a, b) for a, b in itertools.product(EmailStatus, repeat=2) if can_move(a, b)]
    # When each is made, then it keeps the row's listing class or takes it from OPEN to SENT or ERROR:
    # never back, never between the final ones (what lets a listing read OPEN before the final classes)
    for current, target in moves:
        before, after = listing_class(current), listing_class(target)
        assert before == after or (before is ListingClass.OPEN and after is not ListingClass.OPEN)
