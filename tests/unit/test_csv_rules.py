"""The CSV contract, one behaviour per test: what is read, what is skipped (and why), what is refused."""

import json

import pytest

import campaign.domain.csv_rules as rules
from campaign.domain.addresses import ascii_address
from campaign.domain.csv_rules import (
    CampaignRow,
    CsvErrorCode,
    CsvFileError,
    ParsedCsv,
    SkippedRow,
    SkipReason,
    parse_campaign_csv,
)
from campaign.limits import MAX_CONTENT_BYTES, MAX_SUBJECT_CHARS

HEADER = "email,subject,content"
# Python's csv module refuses fields longer than this unless told otherwise.
CSV_DEFAULT_FIELD_LIMIT = 128 * 1024


def csv_file(*records: str, newline: str = "\n", bom: bool = False) -> bytes:
    """The UTF-8 bytes of a file made of `records`, each ended by `newline`."""
    text = "".join(record + newline for record in records)
    return ("\ufeff" if bom else "").encode() + text.encode()


def parse(*records: str, newline: str = "\n") -> ParsedCsv:
    return parse_campaign_csv(csv_file(*records, newline=newline))


def file_error(content: bytes) -> CsvFileError:
    with pytest.raises(CsvFileError) as caught:
        parse_campaign_csv(content)
    return caught.value


def only_row(parsed: ParsedCsv) -> CampaignRow:
    assert parsed.skipped == []
    assert len(parsed.rows) == 1
    return parsed.rows[0]


def only_skip(parsed: ParsedCsv) -> SkippedRow:
    assert parsed.rows == []
    assert len(parsed.skipped) == 1
    return parsed.skipped[0]


def quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


# --- The header ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "EMAIL,SUBJECT,CONTENT",
        "Email,Subject,Content",
        " email , subject ,content ",
        "\tEmail\t,  SUBJECT,Content  ",
        '" Email ","Subject"," content "',
    ],
)
def test_header_is_matched_case_insensitively_with_surrounding_spaces_trimmed(header: str) -> None:
    # Given a header whose names differ from the canonical ones only in case and padding
    # When the file is parsed
    row = only_row(parse(header, "ann@example.com,Hello,Body"))
    # Then every column is found
    assert (row.email, row.subject, row.content) == ("ann@example.com", "Hello", "Body")


@pytest.mark.parametrize(
    ("header", "record"),
    [
        ("email,subject,content", "ann@example.com,Hello,Body"),
        ("email,content,subject", "ann@example.com,Body,Hello"),
        ("subject,email,content", "Hello,ann@example.com,Body"),
        ("subject,content,email", "Hello,Body,ann@example.com"),
        ("content,email,subject", "Body,ann@example.com,Hello"),
        ("content,subject,email", "Body,Hello,ann@example.com"),
    ],
)
def test_columns_may_come_in_any_order(header: str, record: str) -> None:
    # Given the required columns in some order
    # When the file is parsed
    row = only_row(parse(header, record))
    # Then each value is read from its own column
    assert (row.email, row.subject, row.content) == ("ann@example.com", "Hello", "Body")


def test_extra_columns_are_ignored() -> None:
    # Given columns the contract does not know, before, between and after the required ones
    header = "id,first_name,email,segment,subject,content,notes"
    record = "17,Ann,ann@example.com,vip,Hello,Body,called twice"
    # When the file is parsed
    row = only_row(parse(header, record))
    # Then only the required columns are read
    assert (row.email, row.subject, row.content) == ("ann@example.com", "Hello", "Body")


def test_extra_columns_may_repeat_a_name() -> None:
    # Given two unknown columns with the same name
    # When the file is parsed
    parsed = parse("note,email,subject,content,note", "a,ann@example.com,Hello,Body,b")
    # Then the file is accepted: only the required columns must be unique
    assert only_row(parsed).email == "ann@example.com"


def test_row_with_a_value_only_in_an_extra_column_counts_as_missing_email() -> None:
    # Given a row whose only value is in an unknown column
    # When the file is parsed
    skip = only_skip(parse("email,subject,content,name", ",,,Ann"))
    # Then it is a data row (not a blank line) and its first problem is the missing address
    assert skip.reason is SkipReason.MISSING_EMAIL


def test_row_shorter_than_the_header_reads_the_absent_cells_as_empty() -> None:
    # Given a row that stops after the subject
    # When the file is parsed
    skip = only_skip(parse(HEADER, "ann@example.com,Hello"))
    # Then the absent content is treated as empty
    assert skip.reason is SkipReason.MISSING_CONTENT


def test_row_with_more_cells_than_the_header_is_skipped_not_sent_truncated() -> None:
    # Given content with an unquoted comma, which splits it into an extra cell
    content = b"email,subject,content\nann@example.com,Hello,Hi Ann, your order has shipped\n"
    # When the file is parsed
    skip = only_skip(parse_campaign_csv(content))
    # Then the row is skipped with a reason that points at the extra cell
    assert (skip.email, skip.reason) == ("ann@example.com", SkipReason.EXTRA_CELLS)


def test_empty_trailing_cells_beyond_the_header_are_ignored() -> None:
    # Given a row with trailing empty cells, as spreadsheets export them
    # When the file is parsed
    row = only_row(parse_campaign_csv(b"email,subject,content\nann@example.com,Hello,Body,,\n"))
    # Then the row is accepted
    assert row.content == "Body"


# --- Encoding and line endings ---------------------------------------------------------------------


@pytest.mark.parametrize("bom", [False, True], ids=["without-bom", "with-bom"])
def test_utf8_is_accepted_with_or_without_a_byte_order_mark(bom: bool) -> None:
    # Given a UTF-8 file with non-ASCII text, optionally starting with a BOM (as Excel writes it)
    content = csv_file(HEADER, "zoe@köln.de,Grüße aus Köln,Ça va? 日本語 ✓", bom=bom)
    # When the file is parsed
    row = only_row(parse_campaign_csv(content))
    # Then the BOM does not leak into the first column name, and the text is decoded intact
    assert (row.email, row.subject, row.content) == ("zoe@köln.de", "Grüße aus Köln", "Ça va? 日本語 ✓")


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_lf_and_crlf_line_endings_are_accepted(newline: str) -> None:
    # Given two data rows separated by LF or CRLF
    # When the file is parsed
    parsed = parse(HEADER, "ann@example.com,Hello,Body", "bob@example.org,Hi,Text", newline=newline)
    # Then both rows are read, with no line-ending characters left in the values
    assert [(r.line, r.email, r.subject, r.content) for r in parsed.rows] == [
        (2, "ann@example.com", "Hello", "Body"),
        (3, "bob@example.org", "Hi", "Text"),
    ]


def test_last_record_needs_no_trailing_newline() -> None:
    # Given a file whose last line is not terminated
    content = b"email,subject,content\nann@example.com,Hello,Body"
    # When the file is parsed
    row = only_row(parse_campaign_csv(content))
    # Then the last record is read whole
    assert row.content == "Body"


# --- RFC 4180 quoting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ('"Hello, Ann"', "Hello, Ann"),
        ('"Spring sale, 20% off, today only"', "Spring sale, 20% off, today only"),
        ('"She said ""hi"""', 'She said "hi"'),
        ('"""Quoted"" at the start"', '"Quoted" at the start'),
        ('"Both, ""kinds"""', 'Both, "kinds"'),
    ],
    ids=["comma", "several-commas", "doubled-quotes", "leading-doubled-quotes", "comma-and-quotes"],
)
def test_quoted_subject_may_contain_commas_and_doubled_quotes(field: str, value: str) -> None:
    # Given a quoted subject with commas or doubled quotes
    # When the file is parsed
    row = only_row(parse(HEADER, f"ann@example.com,{field},Body"))
    # Then the value is unquoted per RFC 4180
    assert row.subject == value


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_quoted_content_may_span_several_lines(newline: str) -> None:
    # Given content with line breaks inside a quoted field
    content = f"Hi Ann,{newline}{newline}See you soon.{newline}-- The team"
    # When the file is parsed
    row = only_row(parse(HEADER, f"ann@example.com,Hello,{quoted(content)}", newline=newline))
    # Then the line breaks are kept verbatim in the content
    assert row.content == content


def test_multi_line_record_reports_the_line_where_it_starts() -> None:
    # Given a record spanning lines 2-4, followed by records on lines 5 and 6
    parsed = parse(
        HEADER,
        'ann@example.com,Hello,"line one',
        "line two",
        'line three"',
        "bob@example.org,Hi,Text",
        "not-an-email,Hi,Text",
    )
    # When the file is parsed
    # Then each record is numbered by its first line
    assert [r.line for r in parsed.rows] == [2, 5]
    assert [s.line for s in parsed.skipped] == [6]


# --- Blank lines -----------------------------------------------------------------------------------


def test_blank_lines_are_ignored_and_not_counted() -> None:
    # Given blank lines before the header, between rows and at the end
    content = b"\n\nemail,subject,content\n\nann@example.com,Hello,Body\n\n\nbob@example.org,Hi,Text\n\n"
    # When the file is parsed
    parsed = parse_campaign_csv(content)
    # Then only the two data rows count, and line numbers still match the physical lines
    assert parsed.total == 2
    assert [(r.line, r.email) for r in parsed.rows] == [(5, "ann@example.com"), (8, "bob@example.org")]


@pytest.mark.parametrize("blank", ["", "   ", ",,", " , , ", '"","",""', "\t"], ids=repr)
def test_records_with_only_empty_or_whitespace_cells_count_as_blank(blank: str) -> None:
    # Given a record with no non-blank cell between two data rows
    # When the file is parsed
    parsed = parse(HEADER, "ann@example.com,Hello,Body", blank, "bob@example.org,Hi,Text")
    # Then it is neither accepted nor skipped
    assert parsed.total == 2
    assert parsed.skipped == []


def test_total_counts_accepted_and_skipped_data_rows() -> None:
    # Given three good rows, two bad rows and a blank line
    parsed = parse(
        HEADER,
        "ann@example.com,Hello,Body",
        "not-an-email,Hello,Body",
        "",
        "bob@example.org,Hi,Text",
        "carol@example.net,,Text",
        "dan@example.com,Hey,Text",
    )
    # When the outcome is counted
    # Then total = accepted + skipped = non-blank data rows
    assert (len(parsed.rows), len(parsed.skipped), parsed.total) == (3, 2, 5)


# --- An accepted row -------------------------------------------------------------------------------


def test_accepted_row_carries_line_normalized_email_lowercase_key_and_values() -> None:
    # Given a valid row with a mixed-case address
    # When the file is parsed
    row = only_row(parse(HEADER, "Ann.Lee@Example.COM,Hello,Body"))
    # Then the domain is normalized, the key is fully lowercased, the line is the physical line and
    # the position is the first data record's
    assert row == CampaignRow(
        line=2, seq=0, email="Ann.Lee@example.com", email_key="ann.lee@example.com", subject="Hello", content="Body"
    )


def test_positions_count_every_data_record_skipped_ones_included() -> None:
    # Given a bad row between two good ones, after a blank line
    parsed = parse(HEADER, "ann@example.com,Hi,Body", "", "not-an-address,Hi,Body", "bob@example.com,Hi,Body")
    # When the file is parsed
    # Then positions follow the data records, so the skipped one leaves a gap
    assert [row.seq for row in parsed.rows] == [0, 2]


def test_subject_is_trimmed_but_content_is_kept_verbatim() -> None:
    # Given a subject and content both padded with spaces
    # When the file is parsed
    row = only_row(parse(HEADER, 'ann@example.com,"  Hello  ","  Body  "'))
    # Then the subject is trimmed and the content is not
    assert (row.subject, row.content) == ("Hello", "  Body  ")


@pytest.mark.parametrize("padded", [" ann@example.com ", "\tann@example.com", '"  ann@example.com  "'])
def test_surrounding_spaces_on_the_email_are_trimmed(padded: str) -> None:
    # Given an address padded with spaces or tabs
    # When the file is parsed
    row = only_row(parse(HEADER, f"{padded},Hello,Body"))
    # Then the row is accepted with the trimmed address
    assert (row.email, row.email_key) == ("ann@example.com", "ann@example.com")


# --- Skipped rows ----------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["", "   ", '""', '"  "'], ids=repr)
def test_row_without_an_email_is_skipped_as_missing_email(email: str) -> None:
    # Given a row with an empty or whitespace-only email cell
    # When the file is parsed
    skip = only_skip(parse(HEADER, f"{email},Hello,Body"))
    # Then it is skipped as missing_email, reporting an empty address
    assert skip == SkippedRow(line=2, email="", reason=SkipReason.MISSING_EMAIL)


@pytest.mark.parametrize(
    "email",
    [
        "not-an-email",
        "ann@",
        "@example.com",
        "ann@example",
        "ann@@example.com",
        "ann lee@example.com",
        "ann..lee@example.com",
        '"Ann <ann@example.com>"',
    ],
)
def test_row_with_a_malformed_email_is_skipped_as_invalid_email(email: str) -> None:
    # Given a row whose address is not a valid email address
    # When the file is parsed
    skip = only_skip(parse(HEADER, f"{email},Hello,Body"))
    # Then it is skipped as invalid_email
    assert skip.reason is SkipReason.INVALID_EMAIL


@pytest.mark.parametrize(
    "email",
    [
        "a" * 65 + "@example.com",  # SES refuses a local part over 64 octets (RFC 5321)
        "jörg@example.com",  # SES does not support SMTPUTF8: the local part must be ASCII
        "用户@example.com",
    ],
)
def test_an_address_ses_would_refuse_is_skipped_as_invalid_email(email: str) -> None:
    # Given a row whose address is valid by the RFCs but not one SES accepts
    # When the file is parsed, Then the row is skipped as invalid_email
    assert only_skip(parse(HEADER, f"{email},Hello,Body")).reason is SkipReason.INVALID_EMAIL


def test_a_local_part_of_exactly_64_octets_is_accepted() -> None:
    # Given an address whose local part is exactly 64 octets, SES's limit
    email = "a" * 64 + "@example.com"
    # When the file is parsed, Then the row is accepted with the address as written
    assert only_row(parse(HEADER, f"{email},Hello,Body")).email == email


def test_an_internationalized_domain_is_accepted_and_kept_as_written() -> None:
    # Given an address whose domain is internationalized
    # When the file is parsed
    row = only_row(parse(HEADER, "ann@bücher.de,Hello,Body"))
    # Then the row is accepted, its address and its key kept in Unicode as written
    assert (row.email, row.email_key) == ("ann@bücher.de", "ann@bücher.de")


def test_an_internationalized_domain_is_sent_as_punycode() -> None:
    # Given an address with an internationalized domain, and one in plain ASCII
    # When each is turned into the address given to SES, Then the first domain becomes punycode
    assert ascii_address("ann@bücher.de") == "ann@xn--bcher-kva.de"
    # and the ASCII address is unchanged
    assert ascii_address("ann@example.com") == "ann@example.com"


def test_invalid_email_is_reported_as_written_but_trimmed() -> None:
    # Given an invalid address with surrounding spaces
    # When the file is parsed
    skip = only_skip(parse(HEADER, "  not-an-email  ,Hello,Body"))
    # Then the report shows the address as written, trimmed
    assert skip == SkippedRow(line=2, email="not-an-email", reason=SkipReason.INVALID_EMAIL)


@pytest.mark.parametrize("subject", ["", "   ", '""', '"\t"'], ids=repr)
def test_row_without_a_subject_is_skipped_as_missing_subject(subject: str) -> None:
    # Given a row with an empty or whitespace-only subject
    # When the file is parsed
    skip = only_skip(parse(HEADER, f"ann@example.com,{subject},Body"))
    # Then it is skipped as missing_subject
    assert skip == SkippedRow(line=2, email="ann@example.com", reason=SkipReason.MISSING_SUBJECT)


@pytest.mark.parametrize("subject", ["Hello\nAnn", "Hello\rAnn", "Hello\r\nAnn", "Hello\n", "\rHello"], ids=repr)
def test_subject_with_a_line_break_is_skipped_as_subject_has_line_break(subject: str) -> None:
    # Given a quoted subject containing a CR or LF (a header-injection risk)
    # When the file is parsed
    skip = only_skip(parse(HEADER, f"ann@example.com,{quoted(subject)},Body"))
    # Then it is skipped as subject_has_line_break, even when the break is at an edge
    assert skip.reason is SkipReason.SUBJECT_HAS_LINE_BREAK


def test_subject_of_exactly_the_maximum_length_is_accepted() -> None:
    # Given a subject of exactly MAX_SUBJECT_CHARS characters
    subject = "s" * MAX_SUBJECT_CHARS
    # When the file is parsed
    row = only_row(parse(HEADER, f"ann@example.com,{subject},Body"))
    # Then it is accepted whole
    assert row.subject == subject


def test_subject_one_character_over_the_maximum_is_skipped_as_subject_too_long() -> None:
    # Given a subject of MAX_SUBJECT_CHARS + 1 characters
    subject = "s" * (MAX_SUBJECT_CHARS + 1)
    # When the file is parsed
    skip = only_skip(parse(HEADER, f"ann@example.com,{subject},Body"))
    # Then it is skipped as subject_too_long
    assert skip.reason is SkipReason.SUBJECT_TOO_LONG


def test_subject_length_is_counted_in_characters_after_trimming() -> None:
    # Given a maximum-length subject of two-byte characters, padded with spaces
    subject = "é" * MAX_SUBJECT_CHARS
    # When the file is parsed
    row = only_row(parse(HEADER, f'ann@example.com,"   {subject}   ",Body'))
    # Then neither the padding nor the UTF-8 byte length counts against the limit
    assert row.subject == subject


@pytest.mark.parametrize("content", ["", "   ", '""', quoted("\n"), quoted(" \r\n\t ")], ids=repr)
def test_row_without_content_is_skipped_as_missing_content(content: str) -> None:
    # Given a row with empty or whitespace-only content
    # When the file is parsed
    skip = only_skip(parse(HEADER, f"ann@example.com,Hello,{content}"))
    # Then it is skipped as missing_content
    assert skip == SkippedRow(line=2, email="ann@example.com", reason=SkipReason.MISSING_CONTENT)


def test_content_of_exactly_the_maximum_size_is_accepted() -> None:
    # Given content of exactly MAX_CONTENT_BYTES UTF-8 bytes
    content = "c" * MAX_CONTENT_BYTES
    # When the file is parsed
    row = only_row(parse(HEADER, f"ann@example.com,Hello,{content}"))
    # Then it is accepted whole
    assert row.content == content


@pytest.mark.parametrize(
    "content",
    ["c" * (MAX_CONTENT_BYTES + 1), "é" * (MAX_CONTENT_BYTES // 2 + 1)],
    ids=["one-byte-over", "two-byte-chars-over-in-bytes-not-chars"],
)
def test_content_over_the_maximum_utf8_size_is_skipped_as_content_too_long(content: str) -> None:
    # Given content one byte over MAX_CONTENT_BYTES once encoded as UTF-8
    # When the file is parsed
    skip = only_skip(parse(HEADER, f"ann@example.com,Hello,{content}"))
    # Then it is skipped as content_too_long
    assert skip.reason is SkipReason.CONTENT_TOO_LONG


@pytest.mark.parametrize(
    "repeat",
    ["ann@example.com", "ANN@EXAMPLE.COM", "Ann@Example.com", "  ann@example.com  "],
)
def test_repeated_recipient_is_skipped_as_duplicate_compared_case_insensitively(repeat: str) -> None:
    # Given the same address twice, the second time in different case or padding
    # When the file is parsed
    parsed = parse(HEADER, "ann@example.com,Hello,Body", f"{repeat},Again,Body")
    # Then the first occurrence is accepted and the second is skipped as duplicate_recipient
    assert [(r.line, r.email) for r in parsed.rows] == [(2, "ann@example.com")]
    assert [(s.line, s.reason) for s in parsed.skipped] == [(3, SkipReason.DUPLICATE_RECIPIENT)]


def test_recipient_of_a_skipped_row_may_still_be_accepted_later() -> None:
    # Given a recipient whose first row is skipped for its subject, and whose second row is valid
    # When the file is parsed
    parsed = parse(HEADER, "ann@example.com,,Body", "ann@example.com,Hello,Body")
    # Then the second row is accepted: only accepted rows claim a recipient
    assert [r.line for r in parsed.rows] == [3]
    assert [(s.line, s.reason) for s in parsed.skipped] == [(2, SkipReason.MISSING_SUBJECT)]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (',"Hi\nthere",', SkipReason.MISSING_EMAIL),
        ('not-an-email,"Hi\nthere",', SkipReason.INVALID_EMAIL),
        ('ann@example.com,"Hi\nthere",', SkipReason.SUBJECT_HAS_LINE_BREAK),
        ("ann@example.com,,", SkipReason.MISSING_SUBJECT),
        (f"ann@example.com,{'s' * (MAX_SUBJECT_CHARS + 1)},", SkipReason.SUBJECT_TOO_LONG),
        ("ann@example.com,Hi,", SkipReason.MISSING_CONTENT),
        (f"ann@example.com,Hi,{'c' * (MAX_CONTENT_BYTES + 1)}", SkipReason.CONTENT_TOO_LONG),
    ],
    ids=lambda value: value if isinstance(value, SkipReason) else "",
)
def test_row_reports_only_its_first_problem(record: str, reason: SkipReason) -> None:
    # Given an accepted row for ann@, then a row with this problem and every later one
    # (rule order: email, subject line break, subject presence, subject length, content, duplicate)
    parsed = parse(HEADER, "ann@example.com,Hello,Body", record)
    # When the file is parsed
    # Then the row is skipped once, for its first problem in rule order
    assert [s.reason for s in parsed.skipped] == [reason]


def test_skipped_rows_do_not_stop_the_rest_of_the_file() -> None:
    # Given one row for each skip reason, then a valid row
    rows = [
        ",Hello,Body",
        "not-an-email,Hello,Body",
        "a@example.com,,Body",
        f"b@example.com,{quoted('Hi' + chr(10) + 'there')},Body",
        f"c@example.com,{'s' * (MAX_SUBJECT_CHARS + 1)},Body",
        "d@example.com,Hello,",
        f"e@example.com,Hello,{'c' * (MAX_CONTENT_BYTES + 1)}",
        "f@example.com,Hello,Body",
        "F@example.com,Hello,Body",
        "g@example.com,Hello,Body",
    ]
    # When the file is parsed
    parsed = parse(HEADER, *rows)
    # Then every reason is reported at its line, and both valid rows are accepted
    assert [(s.line, s.reason) for s in parsed.skipped] == [
        (2, SkipReason.MISSING_EMAIL),
        (3, SkipReason.INVALID_EMAIL),
        (4, SkipReason.MISSING_SUBJECT),
        (5, SkipReason.SUBJECT_HAS_LINE_BREAK),
        (7, SkipReason.SUBJECT_TOO_LONG),
        (8, SkipReason.MISSING_CONTENT),
        (9, SkipReason.CONTENT_TOO_LONG),
        (11, SkipReason.DUPLICATE_RECIPIENT),
    ]
    assert [(r.line, r.email) for r in parsed.rows] == [(10, "f@example.com"), (12, "g@example.com")]


def test_a_field_longer_than_the_csv_module_default_limit_is_not_a_file_error() -> None:
    # Given a field longer than Python csv's default 128 KiB limit, in an extra column and as content
    huge = "x" * (CSV_DEFAULT_FIELD_LIMIT + 1)
    # When the file is parsed
    parsed = parse(
        "email,subject,content,notes",
        f"ann@example.com,Hello,Body,{huge}",
        f"bob@example.org,Hello,{huge},",
    )
    # Then the file is read: the long note is ignored and the long content is a row-level skip
    assert [r.email for r in parsed.rows] == ["ann@example.com"]
    assert [(s.line, s.reason) for s in parsed.skipped] == [(3, SkipReason.CONTENT_TOO_LONG)]


# --- File-level errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b" ", b"\n", b"\r\n\r\n", b" \t\n  \r\n\t"], ids=repr)
def test_empty_or_whitespace_only_file_is_refused_as_empty_file(content: bytes) -> None:
    # Given a file with no bytes, or only whitespace
    # When the file is parsed
    error = file_error(content)
    # Then it is refused as empty_file
    assert error.code == CsvErrorCode.EMPTY_FILE


@pytest.mark.parametrize("content", [b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"], ids=repr)
def test_file_with_only_a_byte_order_mark_is_refused_as_empty_file(content: bytes) -> None:
    # Given a file holding nothing but a UTF-8 BOM (and maybe a line break)
    # When the file is parsed
    error = file_error(content)
    # Then it is refused as empty_file
    assert error.code == CsvErrorCode.EMPTY_FILE


@pytest.mark.parametrize(
    "content",
    [
        b"email,subject,content",
        b"email,subject,content\n",
        b"email,subject,content\r\n\r\n\r\n",
        b"\xef\xbb\xbfEmail,Subject,Content\n",
        b"email,subject,content\n,,\n \n",
    ],
    ids=repr,
)
def test_header_without_data_rows_is_refused_as_no_data_rows(content: bytes) -> None:
    # Given a header followed by nothing but blank records
    # When the file is parsed
    error = file_error(content)
    # Then it is refused as no_data_rows
    assert error.code == CsvErrorCode.NO_DATA_ROWS


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        ("email,subject", ["content"]),
        ("subject,content", ["email"]),
        ("email,content,name", ["subject"]),
        ("Email,Body", ["subject", "content"]),
        ("email", ["subject", "content"]),
        ("to,title,body", ["email", "subject", "content"]),
        ("e-mail,subject,message", ["email", "content"]),
    ],
)
def test_missing_required_columns_are_refused_and_named(header: str, missing: list[str]) -> None:
    # Given a header lacking some required columns
    # When the file is parsed
    error = file_error(csv_file(header, "ann@example.com,Hello,Body"))
    # Then it is refused as missing_columns, naming exactly the missing ones in contract order
    assert error.code == CsvErrorCode.MISSING_COLUMNS
    assert error.details["missingColumns"] == missing


@pytest.mark.parametrize(
    "header",
    ["email,subject,content,email", "email,Subject,content, SUBJECT ", "content,email,subject,CONTENT"],
)
def test_required_column_named_twice_is_refused_as_duplicate_columns(header: str) -> None:
    # Given a header naming a required column twice (after case and space folding)
    # When the file is parsed
    error = file_error(csv_file(header, "ann@example.com,Hello,Body,x"))
    # Then it is refused as duplicate_columns
    assert error.code == CsvErrorCode.DUPLICATE_COLUMNS


@pytest.mark.parametrize(
    "content",
    [
        "email,subject,content\nann@example.com,Grüße,Body\n".encode("latin-1"),
        "email,subject,content\nann@example.com,\u201cHello\u201d,Body\n".encode("cp1252"),
        b"email,subject,content\nann@example.com,Hello,\xff\xfe\n",
    ],
    ids=["latin-1", "cp1252-smart-quotes", "stray-bytes"],
)
def test_file_that_is_not_utf8_is_refused_as_not_utf8(content: bytes) -> None:
    # Given a file in a legacy 8-bit encoding
    # When the file is parsed
    error = file_error(content)
    # Then it is refused as not_utf8
    assert error.code == CsvErrorCode.NOT_UTF8


@pytest.mark.parametrize(
    "content",
    [
        b"email,subject,content\nann@example.com,Hello,Bo\x00dy\n",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00",
    ],
    ids=["nul-in-text", "png-like"],
)
def test_file_with_nul_bytes_is_refused_as_not_csv(content: bytes) -> None:
    # Given binary data: any NUL byte
    # When the file is parsed
    error = file_error(content)
    # Then it is refused as not_csv
    assert error.code == CsvErrorCode.NOT_CSV


@pytest.mark.parametrize(
    "text",
    [
        json.dumps([{"email": "ann@example.com", "subject": "Hello, Ann", "content": "Body"}], indent=2),
        json.dumps({"email": "ann@example.com", "subject": "Hello", "content": "Body"}, indent=2),
        json.dumps({"email": "ann@example.com", "subject": "Hello", "content": "Body"}),
        json.dumps([{"email": "ann@example.com", "subject": "Hello", "content": "Body"}]),
        '<?xml version="1.0"?>\n<rows><row email="ann@example.com"/></rows>\n',
        "Dear Ann\nThis is a letter, not a spreadsheet.\n",
        "<html>\n<body><p>email, subject, content</p></body>\n</html>\n",
    ],
    ids=["json-array", "json-object", "json-object-one-line", "json-array-one-line", "xml", "plain-text", "html"],
)
def test_other_text_documents_are_refused_as_not_csv(text: str) -> None:
    # Given a text file that is some other document (JSON, XML, prose, HTML)
    # When the file is parsed
    error = file_error(text.encode())
    # Then it is refused as not_csv
    assert error.code == CsvErrorCode.NOT_CSV


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"email": "ann@example.com", "subject": "Hello", "content": "Body"}, separators=(",", ":")),
        json.dumps([{"email": "ann@example.com", "subject": "Hello", "content": "Body"}], separators=(",", ":")),
    ],
    ids=["json-object", "json-array"],
)
def test_compact_json_document_is_refused_as_not_csv(text: str) -> None:
    # Given a compact single-line JSON document, as most APIs emit it
    # When the file is parsed
    error = file_error(text.encode())
    # Then it is refused as not_csv
    assert error.code == CsvErrorCode.NOT_CSV


@pytest.mark.parametrize("first_column", ["[Customer ID]", "{id}", "<unused>"])
def test_header_with_all_required_columns_is_accepted_whatever_the_first_column_is_called(
    first_column: str,
) -> None:
    # Given a valid CSV whose first (extra) column name starts with a bracket
    content = csv_file(f"{first_column},email,subject,content", "17,ann@example.com,Hello,Body")
    # When the file is parsed
    row = only_row(parse_campaign_csv(content))
    # Then it is read like any other extra column
    assert row.email == "ann@example.com"


@pytest.mark.parametrize(
    "content",
    [
        b'email,subject,content\nann@example.com,"Hello,Body\n',
        b'email,subject,content\nann@example.com,Hello,"Body\nbob@example.org,Hi,Text\n',
        b'"email,subject,content\n',
        b'email,subject,content\nann@example.com,"Hello" Ann,Body\n',
        b'email,subject,content\nann@example.com,Hello,"Body"x\n',
    ],
    ids=[
        "unterminated-quote",
        "unterminated-quote-swallowing-rows",
        "unterminated-quote-in-header",
        "text-after-closing-quote",
        "char-after-closing-quote",
    ],
)
def test_broken_quoting_is_refused_as_malformed_csv(content: bytes) -> None:
    # Given a file whose quotes do not pair up as RFC 4180 requires
    # When the file is parsed
    error = file_error(content)
    # Then it is refused as malformed_csv
    assert error.code == CsvErrorCode.MALFORMED_CSV


def test_malformed_csv_error_names_the_line() -> None:
    # Given a stray quote after a closing quote on line 3
    content = b'email,subject,content\nann@example.com,Hello,Body\nbob@example.org,"Hi" there,Text\n'
    # When the file is parsed
    error = file_error(content)
    # Then the message points at line 3
    assert error.code == CsvErrorCode.MALFORMED_CSV
    assert "line 3" in error.message


def test_quote_inside_an_unquoted_field_is_kept_as_a_literal_character() -> None:
    # Given a quote character inside a field that does not start with a quote (documented leniency:
    # spreadsheets and Python's csv reader read it literally; refusing the whole file would not help)
    content = b'email,subject,content\nann@example.com,Hello "Ann",Body\n'
    # When the file is parsed
    row = only_row(parse_campaign_csv(content))
    # Then the quote is part of the subject
    assert row.subject == 'Hello "Ann"'


def test_file_errors_carry_a_code_and_a_human_message() -> None:
    # Given a file missing a column
    # When the file is parsed
    error = file_error(b"email,subject\nann@example.com,Hello\n")
    # Then the error is a ValueError with a machine code and a readable message naming the column
    assert isinstance(error, ValueError)
    assert error.code == CsvErrorCode.MISSING_COLUMNS
    assert "content" in error.message
    assert str(error) == error.message


def test_more_data_rows_than_the_limit_refuses_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a limit of 3 rows and a file of 4 (blank lines do not count)
    monkeypatch.setattr(rules, "MAX_UPLOAD_ROWS", 3)
    content = b"email,subject,content\na@example.com,s,c\n\nb@example.com,s,c\nbad,s,c\nd@example.com,s,c\n"
    # When the file is parsed
    with pytest.raises(CsvFileError) as refused:
        rules.parse_campaign_csv(content)
    # Then it is refused as a whole, naming the limit
    assert refused.value.code == CsvErrorCode.TOO_MANY_ROWS
    assert refused.value.details == {"limitRows": 3}


def test_exactly_the_row_limit_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a limit of 3 rows and a file of exactly 3, one of them with a bad address
    monkeypatch.setattr(rules, "MAX_UPLOAD_ROWS", 3)
    # When the file is parsed
    parsed = rules.parse_campaign_csv(b"email,subject,content\na@example.com,s,c\nb@example.com,s,c\nbad,s,c\n")
    # Then it is accepted, all 3 rows counted
    assert parsed.total == 3
