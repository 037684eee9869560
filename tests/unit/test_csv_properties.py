"""Properties of parse_campaign_csv over generated input: it never fails in an undocumented way, and
files written by a standard CSV writer are read back exactly."""

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.domain.csv_rules import REQUIRED_COLUMNS, CsvErrorCode, CsvFileError, SkipReason, parse_campaign_csv
from campaign.limits import MAX_SUBJECT_CHARS
from tests.support.hypothesis_profiles import examples

BOUNDED = settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
LINE_BREAK = re.compile(r"\r\n|\r|\n")

# Any character a UTF-8 file can hold, except NUL (which marks a file as binary).
any_char = st.characters(codec="utf-8", exclude_characters="\x00")


def parse_or_file_error(content: bytes) -> None:
    try:
        parse_campaign_csv(content)
    except CsvFileError as error:
        assert error.code in {
            CsvErrorCode.EMPTY_FILE,
            CsvErrorCode.NO_DATA_ROWS,
            CsvErrorCode.MISSING_COLUMNS,
            CsvErrorCode.DUPLICATE_COLUMNS,
            "not_utf8",
            CsvErrorCode.NOT_CSV,
            CsvErrorCode.MALFORMED_CSV,
        }


# --- Never anything but a result or a CsvFileError -------------------------------------------------


@BOUNDED
@given(st.binary(max_size=300))
def test_arbitrary_bytes_either_parse_or_raise_a_file_error(content: bytes) -> None:
    # Given any bytes at all
    # When they are parsed
    # Then the outcome is a result or a CsvFileError with a documented code, never another exception
    parse_or_file_error(content)


@BOUNDED
@given(st.text(any_char | st.sampled_from(',"\r\n\ufeff\x00'), max_size=300))
def test_arbitrary_text_either_parses_or_raises_a_file_error(text: str) -> None:
    # Given any UTF-8 text, rich in CSV punctuation
    # When it is parsed
    # Then the outcome is a result or a CsvFileError
    parse_or_file_error(text.encode())


csv_ish_cell = st.text(
    st.sampled_from([*',"\r\n \t@.;', "a", "Z", "é", "\u2028", "\x85"]), max_size=12
) | st.sampled_from(["ann@example.com", "ANN@example.com", '"x"@example.com', "a@b", "@", "é@example.com"])


@BOUNDED
@given(
    st.permutations([*REQUIRED_COLUMNS, "extra"]),
    st.lists(st.lists(csv_ish_cell, max_size=6), max_size=8),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_text_after_a_valid_header_either_parses_or_raises_a_file_error(
    header: list[str], records: list[list[str]], newline: str
) -> None:
    # Given a valid header followed by comma-joined junk (so the row rules are reached)
    text = ",".join(header) + newline + newline.join(",".join(cells) for cells in records)
    # When it is parsed
    # Then the outcome is a result or a CsvFileError
    parse_or_file_error(text.encode())


# --- Files a CSV writer produces are read back exactly ---------------------------------------------


@dataclass(frozen=True)
class Recipient:
    email: str
    subject: str
    content: str
    extras: tuple[str, ...]

    @property
    def key(self) -> str:
        return self.email.strip().lower()


@dataclass(frozen=True)
class WrittenFile:
    content: bytes
    recipients: list[Recipient]
    lines: list[int]  # the physical line each data record starts on


emails = st.builds(
    lambda local, domain, pad: pad + local + "@" + domain + pad,
    st.from_regex(r"[A-Za-z0-9]{1,8}([._+-][A-Za-z0-9]{1,8})?", fullmatch=True),
    st.sampled_from(["example.com", "Example.ORG", "mail.example.net"]),
    st.sampled_from(["", " ", "  "]),
)
subjects = st.text(st.characters(codec="utf-8", exclude_characters="\x00\r\n"), min_size=1, max_size=60).filter(
    lambda s: s.strip() and len(s.strip()) <= MAX_SUBJECT_CHARS
)
contents = st.text(any_char, min_size=1, max_size=120).filter(lambda s: s.strip())
extra_names = st.from_regex(r"[A-Za-z_]{1,10}", fullmatch=True).filter(
    lambda name: name.lower() not in REQUIRED_COLUMNS
)


def spelling(case: Callable[[str], str], pad: str) -> Callable[[str], str]:
    """A way to write a column name in the header: in some case, with some padding."""
    return lambda name: pad + case(name) + pad


header_spellings = st.builds(
    spelling, st.sampled_from([str.lower, str.upper, str.title]), st.sampled_from(["", " ", "\t"])
)
QUOTINGS: tuple[Literal[0, 1, 2, 3], ...] = (csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC)


@st.composite
def written_files(draw: st.DrawFn) -> WrittenFile:
    """A file written by csv.writer: random quoting, line ending, BOM, column order and extra
    columns, with blank lines scattered between records and some recipients repeated."""
    extras = draw(st.lists(extra_names, max_size=3))
    columns = draw(st.permutations([*REQUIRED_COLUMNS, *(f"x:{i}" for i in range(len(extras)))]))
    spell = draw(header_spellings)
    header = [spell(c) if c in REQUIRED_COLUMNS else extras[int(c[2:])] for c in columns]

    unique = draw(st.lists(emails, min_size=1, max_size=6))
    recipients = [
        Recipient(
            email=draw(st.sampled_from(unique)),
            subject=draw(subjects),
            content=draw(contents),
            extras=tuple(draw(st.text(any_char, max_size=20)) for _ in extras),
        )
        for _ in range(draw(st.integers(1, 10)))
    ]

    newline = draw(st.sampled_from(["\n", "\r\n"]))
    quoting = draw(st.sampled_from(QUOTINGS))
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=quoting, lineterminator=newline)
    # Before CPython 3.11.9 (gh-67044) QUOTE_MINIMAL left a field with a bare CR unquoted unless the
    # line terminator held a CR, which writes a broken file; such rows are written fully quoted.
    quote_all = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator=newline)
    buffer.write(newline * draw(st.integers(0, 2)))
    writer.writerow(header)
    starts = []
    for recipient in recipients:
        buffer.write(newline * draw(st.integers(0, 2)))
        starts.append(buffer.tell())
        values = {"email": recipient.email, "subject": recipient.subject, "content": recipient.content}
        row = [values[c] if c in REQUIRED_COLUMNS else recipient.extras[int(c[2:])] for c in columns]
        (quote_all if any("\r" in value for value in row) else writer).writerow(row)
    buffer.write(newline * draw(st.integers(0, 2)))
    text = buffer.getvalue()
    breaks = [match.end() for match in LINE_BREAK.finditer(text)]
    lines = [1 + sum(1 for end in breaks if end <= start) for start in starts]
    bom = "\ufeff" if draw(st.booleans()) else ""
    return WrittenFile(content=(bom + text).encode(), recipients=recipients, lines=lines)


@BOUNDED
@given(written_files())
def test_total_is_the_number_of_non_blank_records(file: WrittenFile) -> None:
    # Given a file of valid records written by csv.writer, with blank lines in between
    # When it is parsed
    parsed = parse_campaign_csv(file.content)
    # Then every record is counted once, and blank lines are not counted
    assert parsed.total == len(parsed.rows) + len(parsed.skipped) == len(file.recipients)


@BOUNDED
@given(written_files())
def test_written_rows_round_trip_and_only_repeats_are_skipped(file: WrittenFile) -> None:
    # Given a file of valid records written by csv.writer, some repeating a recipient
    # When it is parsed
    parsed = parse_campaign_csv(file.content)
    # Then each recipient's first record is accepted with its subject (trimmed) and content (verbatim)
    # at the line it starts on, and every later record for that recipient is a duplicate
    seen: set[str] = set()
    expected_rows, expected_skips = [], []
    for line, recipient in zip(file.lines, file.recipients, strict=True):
        if recipient.key in seen:
            expected_skips.append((line, recipient.key, SkipReason.DUPLICATE_RECIPIENT))
        else:
            seen.add(recipient.key)
            expected_rows.append((line, recipient.key, recipient.subject.strip(), recipient.content))
    assert [(r.line, r.email_key, r.subject, r.content) for r in parsed.rows] == expected_rows
    assert [(s.line, s.email.lower(), s.reason) for s in parsed.skipped] == expected_skips
