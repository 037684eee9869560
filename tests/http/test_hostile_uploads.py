"""A corpus of malformed and hostile uploads, sent over real HTTP to the live stack's POST /upload.

Refused uploads: never a 5xx; the documented status and a JSON `{"error", "message"}` whose code (and
message or details) name the problem; and nothing written — the table holds as many items as before
(read from the emulator) and `batch(batchId)` for the file's own bytes is null.

Odd but valid CSV files: accepted as a new batch, each row judged by the row rules, and stored as sent.
"""

import gzip
import io
import json
import re
import socket
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from campaign.limits import MAX_REQUEST_BYTES, MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS
from scripts.local.stack import LiveStack
from tests.http.helpers import Emulator, assert_json_error, batch, batch_id_of, graphql

HEADER = b"email,subject,content\n"
BOUNDARY = "hostile-7d1f0c3a"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
SUBJECTS = "query($b: String!) { listEmailStatus(batchId: $b, first: 200) { items { subject } } }"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    content_type: str
    body: bytes


Send = Callable[[LiveStack], Answer]


@dataclass(frozen=True, slots=True)
class Refused:
    name: str
    send: Send
    # The file the request carries, if any: its batch must not exist afterwards.
    file: bytes | None
    status: int
    error: str
    # A pattern the answer's JSON text must contain: the message or a detail naming the problem.
    says: str = ""
    # Further keys of the answer, with their exact values.
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Accepted:
    name: str
    send: Send
    file: bytes
    total: int
    enqueued: int
    # skip reason -> count
    skipped: Mapping[str, int] = field(default_factory=dict)
    # When given: the subjects stored for the batch, exactly (nothing escaped, trimmed or rewritten).
    subjects: frozenset[str] | None = None


# --- ways to send --------------------------------------------------------------------------------


def _client(stack: LiveStack, key: str | None) -> httpx.Client:
    headers = {} if key is None else {"x-api-key": key}
    return httpx.Client(base_url=stack.base_url, headers=headers, timeout=60.0)


def _answer(response: httpx.Response) -> Answer:
    return Answer(response.status_code, response.headers.get("content-type", ""), response.content)


def part(name: str, data: bytes, filename: str | None = "campaign.csv", content_type: str = "text/csv") -> bytes:
    disposition = f'form-data; name="{name}"' + ("" if filename is None else f'; filename="{filename}"')
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\nContent-Type: {content_type}\r\n\r\n"
    return head.encode() + data + b"\r\n"


def multipart(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def upload_file(data: bytes, filename: str = "campaign.csv", content_type: str = "text/csv") -> Send:
    def send(stack: LiveStack) -> Answer:
        with _client(stack, stack.api_key) as client:
            return _answer(client.post("/upload", files={"file": (filename, data, content_type)}))

    return send


def post_body(body: bytes, content_type: str | None, *, key: str | None = "", bearer: str | None = None) -> Send:
    """POST exactly these bytes; `key` "" means the right API key, None none at all."""

    def send(stack: LiveStack) -> Answer:
        headers = {} if content_type is None else {"content-type": content_type}
        if bearer is not None:
            headers["authorization"] = f"Bearer {bearer}"
        with _client(stack, stack.api_key if key == "" else key) as client:
            return _answer(client.post("/upload", content=body, headers=headers))

    return send


def post_chunked(body: bytes, content_type: str, chunk: int = 256 * 1024) -> Send:
    """Transfer-Encoding: chunked, no Content-Length: the request limit is counted as the body streams."""

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), chunk):
            yield body[start : start + chunk]

    def send(stack: LiveStack) -> Answer:
        with _client(stack, stack.api_key) as client:
            response = client.post("/upload", content=chunks(), headers={"content-type": content_type})
            assert "content-length" not in response.request.headers
            return _answer(response)

    return send


def raw_request(head_fields: dict[str, str], body: bytes) -> Send:
    """Bytes on a socket, for what an HTTP client will not send (a lying Content-Length, headers only)."""

    def send(stack: LiveStack) -> Answer:
        port = urlsplit(stack.base_url).port
        assert port is not None
        fields = {"Host": f"127.0.0.1:{port}", "x-api-key": stack.api_key, "Connection": "close", **head_fields}
        head = "POST /upload HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            # The server may answer and close before it reads what it refuses.
            with suppress(OSError):
                sock.sendall(head.encode() + body)
            return _read_response(sock)

    return send


def _read_response(sock: socket.socket) -> Answer:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Answer(int(lines[0].split()[1]), headers.get("content-type", ""), body[:length])


# --- the corpus ----------------------------------------------------------------------------------


def rows(*lines: str) -> bytes:
    return HEADER + "".join(f"{line}\n" for line in lines).encode()


def one_row(tag: str) -> bytes:
    """A valid file of its own for each refused request, so that its batch cannot exist for another reason."""
    return rows(f"{tag}@example.com,Hi,Body")


def _zip(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def refused_file(name: str, data: bytes, error: str, says: str = "", **details: Any) -> Refused:
    return Refused(name, upload_file(data), data, 400, error, says, details)


TWO_FILES = (rows("first.of.two@example.com,Hi,One"), rows("second.of.two@example.com,Hi,Two"))
TRUNCATED_HEADERS = one_row("truncated.headers")
TRUNCATED_DATA = one_row("truncated.data")
LYING_LENGTH = one_row("lying.length")
UTF16 = one_row("utf16").decode().encode("utf-16")
MIXED_ENCODINGS = rows("mixed1@example.com,Caf\u00e9,Body") + b"mixed2@example.com,Caf\xe9,Body\n"
GZIPPED = gzip.compress(one_row("gzip"))
ZIPPED = _zip("campaign.csv", one_row("zip"))
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
OVERSIZE = HEADER + b"chunked@example.com,Subject," + b"y" * MAX_UPLOAD_BYTES + b"\n"
OVER_REQUEST = HEADER + b"chunked.over.request@example.com,Subject," + b"r" * MAX_REQUEST_BYTES + b"\n"
ONE_BYTE_OVER = (HEADER + b"over.limit@example.com,Subject," + b"z" * MAX_UPLOAD_BYTES)[: MAX_UPLOAD_BYTES + 1]
# Rows without an address are cheap to judge (no address validation), so the parser reaches the
# row limit fast; the file is refused as a whole, with none of its first 50,000 rows written.
TOO_MANY_ROWS = HEADER + b",Subject,Body\n" * (MAX_UPLOAD_ROWS + 1)
LIMIT_BYTES = {"limitBytes": MAX_UPLOAD_BYTES}

REFUSED: list[Any] = [
    # --- the request around the file ---
    Refused(
        "truncated multipart body, cut inside the part headers",
        post_body(multipart(part("file", TRUNCATED_HEADERS))[:60], MULTIPART),
        TRUNCATED_HEADERS,
        400,
        "missing_file",
        "no field named 'file'",
    ),
    Refused(
        "truncated multipart body, file data without its closing boundary",
        post_body(part("file", TRUNCATED_DATA)[:-12], MULTIPART),
        TRUNCATED_DATA,
        400,
        "missing_file",
        "no field named 'file'",
    ),
    Refused(
        "Content-Length smaller than the body (the server reads a truncated multipart)",
        raw_request({"Content-Type": MULTIPART, "Content-Length": "60"}, multipart(part("file", LYING_LENGTH))),
        LYING_LENGTH,
        400,
        "missing_file",
    ),
    Refused(
        "the CSV as a raw text/csv body",
        post_body(one_row("raw.csv"), "text/csv"),
        one_row("raw.csv"),
        415,
        "unsupported_media_type",
        "multipart/form-data",
    ),
    Refused(
        "a JSON body",
        post_body(b'{"file": "email,subject,content"}', "application/json"),
        None,
        415,
        "unsupported_media_type",
        "multipart/form-data",
    ),
    Refused(
        "an x-www-form-urlencoded body without a file field",
        post_body(b"campaign=email%2Csubject%2Ccontent", "application/x-www-form-urlencoded"),
        None,
        415,
        "unsupported_media_type",
    ),
    Refused(
        "an x-www-form-urlencoded body with a file field",
        post_body(b"file=email%2Csubject%2Ccontent%0Aa%40example.com%2CHi%2CBody", "application/x-www-form-urlencoded"),
        None,
        415,
        "unsupported_media_type",
    ),
    Refused("no body and no content type", post_body(b"", None), None, 415, "unsupported_media_type"),
    Refused(
        "multipart without a boundary parameter",
        post_body(multipart(part("file", one_row("no.boundary"))), "multipart/form-data"),
        one_row("no.boundary"),
        400,
        "malformed_request",
        "(?i)boundary",
    ),
    Refused(
        "multipart whose parts use another boundary than the header's",
        post_body(multipart(part("file", one_row("wrong.boundary"))), "multipart/form-data; boundary=not-the-one"),
        one_row("wrong.boundary"),
        400,
        "malformed_request",
        "(?i)invalid multipart",
    ),
    Refused("multipart with an empty body", post_body(b"", MULTIPART), None, 400, "missing_file"),
    Refused(
        "multipart whose only field is not named `file`",
        post_body(multipart(part("campaign", one_row("no.file.field"))), MULTIPART),
        one_row("no.file.field"),
        400,
        "missing_file",
        "no field named 'file'",
    ),
    Refused(
        "`file` sent as a plain form field, not a file",
        post_body(multipart(part("file", one_row("plain.field"), filename=None)), MULTIPART),
        one_row("plain.field"),
        400,
        "invalid_request",
        r'"location":\s*"body\.file"',
    ),
    Refused(
        "a 2 MB text field beside the file",
        post_body(multipart(part("notes", b"n" * 2_000_000, filename=None), part("file", one_row("big"))), MULTIPART),
        one_row("big"),
        400,
        "malformed_request",
        "(?i)exceeded maximum size",
    ),
    Refused(
        "2000 form fields beside the file",
        post_body(
            multipart(*(part(f"f{i}", b"v", filename=None) for i in range(2000)), part("file", one_row("many"))),
            MULTIPART,
        ),
        one_row("many"),
        400,
        "malformed_request",
        "(?i)too many fields",
    ),
    Refused(
        "Content-Length over the request limit, headers only (refused before the body is read)",
        raw_request({"Content-Type": MULTIPART, "Content-Length": str(MAX_REQUEST_BYTES + 1)}, b""),
        None,
        413,
        "payload_too_large",
        details={"limitBytes": MAX_REQUEST_BYTES},
    ),
    Refused(
        "a chunked body over the file limit but under the request limit, without Content-Length",
        post_chunked(multipart(part("file", OVERSIZE)), MULTIPART),
        OVERSIZE,
        413,
        "file_too_large",
        details=LIMIT_BYTES,
    ),
    Refused(
        "a chunked body over the request limit, without Content-Length (cut while it streams)",
        post_chunked(multipart(part("file", OVER_REQUEST)), MULTIPART),
        OVER_REQUEST,
        413,
        "payload_too_large",
        details={"limitBytes": MAX_REQUEST_BYTES},
    ),
    Refused(
        "a file one byte over the limit in a request under the request limit",
        upload_file(ONE_BYTE_OVER),
        ONE_BYTE_OVER,
        413,
        "file_too_large",
        details=LIMIT_BYTES,
    ),
    Refused(
        "no API key",
        post_body(multipart(part("file", one_row("no.key"))), MULTIPART, key=None),
        one_row("no.key"),
        401,
        "unauthorized",
    ),
    Refused(
        "a wrong x-api-key",
        post_body(multipart(part("file", one_row("bad.key"))), MULTIPART, key="not-the-key"),
        one_row("bad.key"),
        401,
        "unauthorized",
    ),
    Refused(
        "a wrong bearer token",
        post_body(multipart(part("file", one_row("bad.bearer"))), MULTIPART, key=None, bearer="not-the-key"),
        one_row("bad.bearer"),
        401,
        "unauthorized",
    ),
    # --- the file's bytes ---
    refused_file("zero bytes", b"", "empty_file"),
    refused_file("a 1-byte file", b"a", "not_csv", "no comma-separated header"),
    refused_file("a UTF-8 BOM and nothing else", b"\xef\xbb\xbf", "empty_file"),
    refused_file("only blank and whitespace lines", b"\n\r\n  \n\t\n" * 50, "empty_file"),
    refused_file("a header and no data rows", HEADER, "no_data_rows", "line 1"),
    refused_file("a header, then 100 blank lines", HEADER + b"\n" * 100, "no_data_rows"),
    refused_file("NUL bytes in a cell", rows("nul@example.com,Hi\x00there,Body"), "not_csv", "NUL"),
    refused_file("UTF-16 with a BOM", UTF16, "not_csv", "NUL"),
    refused_file("mixed encodings: UTF-8, then a latin-1 byte", MIXED_ENCODINGS, "not_utf8", r"offset \d+"),
    refused_file(
        "latin-1 throughout", "email,subject,content\nl@example.com,Caf\u00e9,B\n".encode("latin-1"), "not_utf8"
    ),
    refused_file("an overlong UTF-8 encoding", HEADER + b"o@example.com,\xc0\xaf,Body\n", "not_utf8", r"offset \d+"),
    refused_file("an encoded UTF-16 surrogate", HEADER + b"s@example.com,\xed\xa0\x80,Body\n", "not_utf8"),
    refused_file("a gzip-compressed CSV", GZIPPED, "not_csv"),
    refused_file("a zip archive holding a CSV", ZIPPED, "not_csv"),
    refused_file("a PNG image", PNG, "not_csv"),
    refused_file("an HTML page", b"<!doctype html><html><body><p>email,subject,content</p></body></html>\n", "not_csv"),
    refused_file("an XML document", b'<?xml version="1.0"?>\n<rows><row email="a@example.com"/></rows>\n', "not_csv"),
    refused_file(
        "a JSON document", b'[{"email": "j@example.com", "subject": "Hi", "content": "B"}]', "not_csv", "JSON"
    ),
    refused_file(
        "semicolon-separated (a European spreadsheet export)", b"email;subject;content\na@x.io;Hi;B\n", "not_csv"
    ),
    refused_file("tab-separated", b"email\tsubject\tcontent\nt@example.com\tHi\tBody\n", "not_csv"),
    refused_file("a 3 MB line and no newline", b"x" * 3_000_000, "not_csv"),
    refused_file(
        "an unterminated quoted field", HEADER + b'q@example.com,"never closed,Body\n', "malformed_csv", "line 2"
    ),
    refused_file("a 1 MB unterminated quoted field", HEADER + b'q@example.com,"' + b"q" * 1_000_000, "malformed_csv"),
    refused_file(
        "a required column missing",
        b"email,subject\nmissing.col@example.com,Hi\n",
        "missing_columns",
        missingColumns=["content"],
    ),
    refused_file(
        "a header of empty quoted cells",
        b'"","",""\n"e@example.com","Hi","Body"\n',
        "missing_columns",
        missingColumns=["email", "subject", "content"],
    ),
    refused_file(
        "a required column twice",
        b"email,subject,content,Email\nd@example.com,Hi,Body,x@example.com\n",
        "duplicate_columns",
    ),
    Refused(
        "two `file` fields: neither is ingested",
        post_body(multipart(part("file", TWO_FILES[0]), part("file", TWO_FILES[1])), MULTIPART),
        TWO_FILES[1],
        400,
        "duplicate_file_field",
        "more than one field named 'file'",
    ),
    Refused(
        "one row more than the row limit",
        upload_file(TOO_MANY_ROWS),
        TOO_MANY_ROWS,
        413,
        "too_many_rows",
        details={"limitRows": MAX_UPLOAD_ROWS},
    ),
]

HUNDRED_K_COLUMNS = (",".join(f"c{i}" for i in range(100_000)) + ",email,subject,content\n").encode() + (
    b"," * 100_000 + b"wide@example.com,Subject,Body\n"
)
DUPLICATED_UNKNOWN = (",".join(["extra"] * 1000) + ",email,subject,content\n").encode() + (
    b"," * 1000 + b"dup.unknown@example.com,Subject,Body\n"
)
FORMULAS = rows(
    "formula1@example.com,=cmd|' /C calc'!A0,=HYPERLINK(\"http://x\")",
    "formula2@example.com,+SUM(1),+SUM(1)",
    "formula3@example.com,-1,-1",
    "formula4@example.com,@x,@x",
)
DEEP_QUOTES = HEADER + b'deep.quotes@example.com,"""a"",""b"",""c""","' + b'""' * 10_000 + b'"\n'
EMPTY_FILENAME = one_row("empty.filename")
TRAVERSAL = one_row("traversal")


def accepted(name: str, data: bytes, total: int, enqueued: int, **skipped: int) -> Accepted:
    return Accepted(name, upload_file(data), data, total, enqueued, skipped)


ACCEPTED = [
    accepted("control: a plain valid file", rows("good.control@example.com,Hello,Body"), 1, 1),
    Accepted(
        "formula-like cells in subject and content, stored verbatim",
        upload_file(FORMULAS),
        FORMULAS,
        4,
        4,
        subjects=frozenset({"=cmd|' /C calc'!A0", "+SUM(1)", "-1", "@x"}),
    ),
    Accepted(
        "deeply quoted fields: a subject of quoted quotes, a body of 10,000 doubled quotes",
        upload_file(DEEP_QUOTES),
        DEEP_QUOTES,
        1,
        1,
        subjects=frozenset({'"a","b","c"'}),
    ),
    accepted("100k columns before the required ones", HUNDRED_K_COLUMNS, 1, 1),
    accepted("1000 unknown columns of the same name", DUPLICATED_UNKNOWN, 1, 1),
    accepted(
        "10k empty trailing cells", HEADER + b"ten.k.empty@example.com,Subject,Body" + b"," * 10_000 + b"\n", 1, 1
    ),
    accepted("10k blank lines before the header", b"\n" * 10_000 + rows("after.blanks@example.com,Hi,Body"), 1, 1),
    accepted("CR-only line endings", b"email,subject,content\rcr.only@example.com,Hi,Body\r", 1, 1),
    # Cyrillic small a (U+0430): in a domain, a different recipient from the Latin one (sent as
    # Punycode); in a local part, an address SES cannot send to (no SMTPUTF8).
    accepted(
        "homoglyph addresses: a Cyrillic domain is another recipient, a Cyrillic local part is skipped",
        rows("admin@ex\u0430mple.com,S,B", "admin@example.com,S,B", "\u0430dmin@example.com,S,B"),
        3,
        2,
        invalid_email=1,
    ),
    accepted(
        "a local part of 65 characters (SES refuses over 64)",
        rows("b" * 65 + "@example.com,S,B", "c" * 64 + "@example.com,S,B"),
        2,
        1,
        invalid_email=1,
    ),
    accepted("an internationalized domain", rows("ann@b\u00fccher.de,S,B"), 1, 1),
    Accepted(
        "an empty filename (still a file part)",
        post_body(multipart(part("file", EMPTY_FILENAME, filename="")), MULTIPART),
        EMPTY_FILENAME,
        1,
        1,
    ),
    Accepted(
        "a filename with path traversal and control characters",
        upload_file(TRAVERSAL, filename="../../etc/passwd\r\n.csv"),
        TRAVERSAL,
        1,
        1,
    ),
    accepted(
        "a huge single line: 4 MB of content",
        HEADER + b"huge.line@example.com,Subject," + b"x" * 4_000_000 + b"\n",
        1,
        0,
        content_too_long=1,
    ),
    accepted(
        "a formula in the email column",
        rows("=cmd|' /C calc'!A0,Hi,Body", "formula.ok@example.com,Hi,Body"),
        2,
        1,
        invalid_email=1,
    ),
    accepted("a 332-character address", rows("a" * 320 + "@example.com,Subject,Body"), 1, 0, invalid_email=1),
    accepted(
        "10k non-empty extra cells",
        HEADER + b"ten.k.cells@example.com,Subject,Body" + b",x" * 10_000 + b"\n",
        1,
        0,
        extra_cells=1,
    ),
]


def _case(entry: Any) -> Any:
    """A corpus entry's case, whether bare or wrapped in pytest.param (to carry a mark)."""
    return entry if isinstance(entry, Refused | Accepted) else entry.values[0]


def _ids(entries: list[Any]) -> list[str]:
    return [re.sub(r"[^a-zA-Z0-9]+", "-", _case(entry).name).strip("-")[:60] for entry in entries]


def test_the_corpus_holds_at_least_30_distinct_refused_uploads() -> None:
    # Given the corpus / Then it is as large as the issue asks, and no two cases share a name or bytes
    cases = [_case(entry) for entry in REFUSED]
    assert len(cases) >= 30
    assert len(set(_ids(REFUSED))) == len(cases)
    files = [case.file for case in cases if case.file is not None]
    assert len(set(files)) == len(files)


@pytest.mark.parametrize("case", REFUSED, ids=_ids(REFUSED))
def test_a_refused_upload_answers_a_json_error_naming_the_problem_and_writes_nothing(
    case: Refused, stack: LiveStack, api: httpx.Client, emulator: Emulator
) -> None:
    # Given the table as it is
    items_before = emulator.item_count()

    # When the hostile request is sent
    answer = case.send(stack)

    # Then the documented 4xx, as JSON naming the problem
    assert answer.status < 500, f"{answer.status} {answer.body[:300]!r}"
    assert answer.status == case.status, f"{answer.status} {answer.body[:300]!r}"
    body = assert_json_error(answer.status, answer.content_type, answer.body, case.error)
    assert re.search(case.says, json.dumps(body)), body
    assert {key: body.get(key) for key in case.details} == dict(case.details), body
    # And no batch and no row was written
    assert emulator.item_count() == items_before, "a refused upload wrote items"
    if case.file is not None:
        assert batch(api, batch_id_of(case.file)) is None, "a refused upload created its batch"


@pytest.mark.parametrize("case", ACCEPTED, ids=_ids(ACCEPTED))
def test_an_odd_but_valid_csv_becomes_one_new_batch_judged_row_by_row(
    case: Accepted, stack: LiveStack, api: httpx.Client
) -> None:
    # Given a file the API has not seen / When it is uploaded
    answer = case.send(stack)

    # Then a new batch named by the file's bytes, with the expected rows enqueued and skipped
    assert answer.status == 201, f"{answer.status} {answer.body[:300]!r}"
    body = json.loads(answer.body)
    assert body["batchId"] == batch_id_of(case.file), body
    assert body["duplicate"] is False, body
    assert (body["total"], body["enqueued"]) == (case.total, case.enqueued), body
    assert body["total"] == body["enqueued"] + body["skipped"] + body["notEnqueued"], body
    reasons: dict[str, int] = {}
    for skipped in body["skippedRows"]:
        reasons[skipped["reason"]] = reasons.get(skipped["reason"], 0) + 1
    assert reasons == dict(case.skipped), body
    # And the batch is stored as answered, its subjects exactly as sent
    stored = batch(api, body["batchId"])
    assert stored is not None and stored["total"] == case.total, stored
    if case.subjects is not None:
        items = graphql(api, SUBJECTS, {"b": body["batchId"]})["listEmailStatus"]["items"]
        assert {item["subject"] for item in items} == case.subjects
