"""The CSV contract: which files are refused whole, and which rows are skipped (and why).

A file-level problem raises `CsvFileError` before anything is written; a bad row is only counted.
"""

import csv
import io
import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import NamedTuple, TextIO

from email_validator import EmailNotValidError, validate_email

from campaign.domain.addresses import recipient_key
from campaign.domain.recipient_set import RecipientSet
from campaign.limits import MAX_CONTENT_BYTES, MAX_EMAIL_CHARS, MAX_SUBJECT_CHARS, MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS

REQUIRED_COLUMNS: tuple[str, ...] = ("email", "subject", "content")

# The stdlib default (128 KiB per field) would turn one long cell into a file-level error; the
# upload cap already bounds every field.
csv.field_size_limit(MAX_UPLOAD_BYTES)


class SkipReason(StrEnum):
    """Why a data row was not accepted; each value is what the API reports."""

    MISSING_EMAIL = "missing_email"
    INVALID_EMAIL = "invalid_email"
    MISSING_SUBJECT = "missing_subject"
    SUBJECT_HAS_LINE_BREAK = "subject_has_line_break"
    SUBJECT_TOO_LONG = "subject_too_long"
    MISSING_CONTENT = "missing_content"
    CONTENT_TOO_LONG = "content_too_long"
    DUPLICATE_RECIPIENT = "duplicate_recipient"
    # More non-empty cells than the header has columns: almost always an unquoted comma, which would
    # otherwise send a truncated subject or body without a word.
    EXTRA_CELLS = "extra_cells"
    # The recipient is on the suppression list. Not a rule of the file: the ingest looks the accepted
    # rows up (campaign/services/ingest.py) and reports them with the others.
    SUPPRESSED = "suppressed"


class CsvErrorCode(StrEnum):
    """Why a file was refused whole; each value is what the API reports (`error`, or a FAILED upload's
    `error.code`)."""

    EMPTY_FILE = "empty_file"
    NO_DATA_ROWS = "no_data_rows"
    MISSING_COLUMNS = "missing_columns"
    DUPLICATE_COLUMNS = "duplicate_columns"
    NOT_UTF8 = "not_utf8"
    NOT_CSV = "not_csv"
    MALFORMED_CSV = "malformed_csv"
    FILE_TOO_LARGE = "file_too_large"
    TOO_MANY_ROWS = "too_many_rows"
    # A large upload's only (campaign/services/stream_ingest.py), found before any row is written: the
    # object is gone before the first pass read it; its size is not the size declared to POST /uploads;
    # its hash is not the batch's.
    UPLOAD_MISSING = "upload_missing"
    SIZE_MISMATCH = "size_mismatch"
    CHECKSUM_MISMATCH = "checksum_mismatch"


class CsvFileError(ValueError):
    """The file as a whole is unusable; `code` is machine-readable, the message is for people."""

    def __init__(self, code: CsvErrorCode, message: str, **details: object) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class InvalidAddressError(ValueError):
    """An address these rules refuse (a row with it is skipped as missing_email or invalid_email); the
    message says why."""


def normalize_address(text: str) -> str:
    """The address as a row's recipient is accepted: normalized by email-validator (no DNS lookups), at
    most 254 characters, at most 64 before the @, nothing but ASCII before the @ (SES does not support
    SMTPUTF8). Its recipient key is `recipient_key(normalize_address(text))`. Raises InvalidAddressError."""
    email = text.strip()
    if not email:
        raise InvalidAddressError("the address is empty")
    if len(email) > MAX_EMAIL_CHARS:  # longer than any address; not worth a parser's time
        raise InvalidAddressError(f"the address is longer than {MAX_EMAIL_CHARS} characters")
    try:
        # What SES accepts: at most 64 octets before the @ (strict) and an ASCII local part (SES has no
        # SMTPUTF8); an internationalized domain is fine (it is sent as Punycode, campaign.domain.addresses).
        return validate_email(email, check_deliverability=False, allow_smtputf8=False, strict=True).normalized
    except EmailNotValidError as exc:
        raise InvalidAddressError(str(exc)) from exc


class CampaignRow(NamedTuple):
    """An accepted row. `line` is where the record starts in the file (the header is line 1); `seq` is
    the record's ordinal among the file's data records (from 0), its position in the batch."""

    line: int
    seq: int
    email: str
    email_key: str
    subject: str
    content: str


class SkippedRow(NamedTuple):
    line: int
    email: str
    reason: SkipReason


class ParsedCsv(NamedTuple):
    rows: list[CampaignRow]
    skipped: list[SkippedRow]

    @property
    def total(self) -> int:
        return len(self.rows) + len(self.skipped)


def parse_campaign_csv(content: bytes) -> ParsedCsv:
    """Decode, find the header, and sort every non-blank data row into accepted or skipped."""
    text = _decode(content)
    rows: list[CampaignRow] = []
    skipped: list[SkippedRow] = []
    for outcome in read_campaign_rows(io.StringIO(text, newline=""), max_rows=MAX_UPLOAD_ROWS):
        if isinstance(outcome, CampaignRow):
            rows.append(outcome)
        else:
            skipped.append(outcome)
    return ParsedCsv(rows=rows, skipped=skipped)


def read_campaign_rows(text: TextIO, *, max_rows: int) -> Iterator[CampaignRow | SkippedRow]:
    """Judge a CSV record by record, holding only the recipients seen so far (for duplicates).

    `text` must be opened with newline="" (quoted fields may hold line breaks). File-level problems
    raise CsvFileError as soon as they are met, so a caller that must write nothing for a bad file
    reads it through once (`count_data_records`) before acting on any row.
    """
    header, columns, records = _data_records(text, max_rows)
    seen = RecipientSet()
    for seq, (line, record) in enumerate(records):
        email, subject, content_text = (
            record[columns[name]] if columns[name] < len(record) else "" for name in REQUIRED_COLUMNS
        )
        if any(cell.strip() for cell in record[len(header) :]):
            yield SkippedRow(line, email.strip(), SkipReason.EXTRA_CELLS)
            continue
        yield _judge_row(line, seq, email, subject, content_text, seen)


def count_data_records(
    text: TextIO, *, max_rows: int, on_progress: Callable[[int], None] | None = None, progress_every: int = 0
) -> int:
    """Check every file-level rule (encoding, header, CSV syntax, row cap) without judging rows.
    `on_progress(count)` is called every `progress_every` records, e.g. to keep a lease alive."""
    _, _, records = _data_records(text, max_rows)
    count = 0
    for _ in records:
        count += 1
        if on_progress is not None and progress_every and count % progress_every == 0:
            on_progress(count)
    return count


def _data_records(text: TextIO, max_rows: int) -> tuple[list[str], dict[str, int], Iterator[tuple[int, list[str]]]]:
    """The header, the required columns' positions, and the data records after it with the file-level
    rules on their count applied: more than `max_rows` is refused as it is met, none at all once the
    file ends. A file that opens like a JSON document and breaks a CSV rule is refused as not_csv, on
    every path the same (the rule needs only the first line, so a streamed file can apply it too)."""
    opening = _opening_lines(text)
    json_like = opening[-1].lstrip()[:1] in _JSON_OPENERS if opening else False
    records = _records(itertools.chain(opening, text))
    with _refusing_json(json_like):
        header_line, header = _header(records)
        columns = _locate_columns(header)

    def counted() -> Iterator[tuple[int, list[str]]]:
        count = 0
        with _refusing_json(json_like):
            for record in records:
                count += 1
                if count > max_rows:
                    raise _too_many_rows(max_rows)
                yield record
            if count == 0:
                raise CsvFileError(
                    CsvErrorCode.NO_DATA_ROWS, f"the file has a header (line {header_line}) but no data rows"
                )

    return header, columns, counted()


_JSON_OPENERS = ("{", "[")
# What a JSON document breaks when it is read as a CSV (a header of one cell is not_csv already, said
# otherwise); anything else (encoding, size) is reported as is.
_JSON_SYMPTOMS = frozenset(
    {
        CsvErrorCode.MALFORMED_CSV,
        CsvErrorCode.MISSING_COLUMNS,
        CsvErrorCode.DUPLICATE_COLUMNS,
        CsvErrorCode.NO_DATA_ROWS,
        CsvErrorCode.NOT_CSV,
    }
)


def _opening_lines(text: TextIO) -> list[str]:
    """The blank lines at the start and the first line with text (all given back to the CSV reader)."""
    lines: list[str] = []
    try:
        while not lines or not lines[-1].strip():
            line = text.readline()
            if not line:
                break
            lines.append(line)
    except UnicodeDecodeError as exc:
        raise CsvFileError(CsvErrorCode.NOT_UTF8, "the file is not valid UTF-8 (on its first line with text)") from exc
    return lines


@contextmanager
def _refusing_json(json_like: bool) -> Iterator[None]:
    try:
        yield
    except CsvFileError as exc:
        if json_like and exc.code in _JSON_SYMPTOMS:
            raise CsvFileError(CsvErrorCode.NOT_CSV, "the file is a JSON document, not a CSV") from exc
        raise


def _header(records: Iterator[tuple[int, list[str]]]) -> tuple[int, list[str]]:
    first = next(records, None)
    if first is None:
        raise CsvFileError(CsvErrorCode.EMPTY_FILE, "the file is empty")
    return first


def _too_many_rows(max_rows: int) -> CsvFileError:
    return CsvFileError(
        CsvErrorCode.TOO_MANY_ROWS,
        f"the file has more than {max_rows} data rows; split it into smaller files",
        limitRows=max_rows,
    )


def refuse_binary(data: bytes) -> None:
    """A NUL byte marks binary data (an image, an archive, UTF-16): no CSV this service reads has one.
    A stream applies it to each chunk it reads, a whole file once."""
    if b"\x00" in data:
        raise CsvFileError(CsvErrorCode.NOT_CSV, "the file contains NUL bytes: it is binary data, not a CSV")


def _decode(content: bytes) -> str:
    refuse_binary(content)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvFileError(
            CsvErrorCode.NOT_UTF8, f"the file is not valid UTF-8 (bad byte at offset {exc.start})"
        ) from exc
    if not text.strip():
        raise CsvFileError(CsvErrorCode.EMPTY_FILE, "the file is empty")
    return text


def _records(text: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """Yield (start line, fields) for each non-blank record, mapping read errors to a file error."""
    reader = csv.reader(text, strict=True)
    start = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvFileError(CsvErrorCode.MALFORMED_CSV, f"malformed CSV at line {reader.line_num}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise CsvFileError(
                CsvErrorCode.NOT_UTF8, f"the file is not valid UTF-8 (near line {reader.line_num + 1})"
            ) from exc
        if any(field.strip() for field in record):
            yield start, record
        start = reader.line_num + 1


# A header that opens like JSON, XML or HTML is some other document, not a CSV with odd column names.
_OTHER_DOCUMENT_OPENERS = ("{", "[", "<")


def _locate_columns(header: list[str]) -> dict[str, int]:
    names = [name.strip().lower() for name in header]
    present = [name for name in REQUIRED_COLUMNS if name in names]
    looks_like_other_document = bool(names) and names[0].startswith(_OTHER_DOCUMENT_OPENERS)
    if (looks_like_other_document and len(present) < len(REQUIRED_COLUMNS)) or (not present and len(names) <= 1):
        raise CsvFileError(
            CsvErrorCode.NOT_CSV, "no comma-separated header naming the columns email, subject, content was found"
        )
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise CsvFileError(
            CsvErrorCode.MISSING_COLUMNS,
            f"the header lacks the required column(s): {', '.join(missing)}",
            missingColumns=missing,
        )
    repeated = [name for name in REQUIRED_COLUMNS if names.count(name) > 1]
    if repeated:
        raise CsvFileError(CsvErrorCode.DUPLICATE_COLUMNS, f"the header names {', '.join(repeated)} more than once")
    return {name: names.index(name) for name in REQUIRED_COLUMNS}


def _judge_row(
    line: int, seq: int, email: str, subject: str, content: str, seen: RecipientSet
) -> CampaignRow | SkippedRow:
    """Apply the row rules in a fixed order, so each row reports its first problem."""
    email = email.strip()
    if not email:
        return SkippedRow(line, email, SkipReason.MISSING_EMAIL)
    try:
        normalized = normalize_address(email)
    except InvalidAddressError:
        return SkippedRow(line, email, SkipReason.INVALID_EMAIL)
    reason = _subject_problem(subject) or _content_problem(content)
    if reason is not None:
        return SkippedRow(line, normalized, reason)
    key = recipient_key(normalized)
    if not seen.add(key):
        return SkippedRow(line, normalized, SkipReason.DUPLICATE_RECIPIENT)
    return CampaignRow(line=line, seq=seq, email=normalized, email_key=key, subject=subject.strip(), content=content)


def _subject_problem(subject: str) -> SkipReason | None:
    if "\r" in subject or "\n" in subject:
        return SkipReason.SUBJECT_HAS_LINE_BREAK
    if not subject.strip():
        return SkipReason.MISSING_SUBJECT
    if len(subject.strip()) > MAX_SUBJECT_CHARS:
        return SkipReason.SUBJECT_TOO_LONG
    return None


def _content_problem(content: str) -> SkipReason | None:
    if not content.strip():
        return SkipReason.MISSING_CONTENT
    if len(content.encode()) > MAX_CONTENT_BYTES:
        return SkipReason.CONTENT_TOO_LONG
    return None
