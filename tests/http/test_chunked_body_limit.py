"""A chunked body of 64 MB (no Content-Length), sent over real HTTP to the live stack's /upload and
/graphql: the request limit holds while the body streams.

The body is generated lazily, 64 KiB at a time, so the test holds none of it. The API answers 413
`payload_too_large` as soon as the bytes it read pass the limit, and closes the connection, so the
client can send only the limit plus what the loopback sockets buffer. The API process (the uvicorn
process serving the stack's port) has its peak resident memory (VmHWM in /proc/<pid>/status) reset
through /proc/<pid>/clear_refs before each request, so its growth is this request's.
"""

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from campaign.limits import MAX_REQUEST_BYTES
from scripts.local.stack import LiveStack
from tests.http.helpers import Emulator, assert_json_error, batch
from tests.support.apigw import multipart_framing

BODY_BYTES = 64 * 1024 * 1024
CHUNK = 64 * 1024
# The request limit, then what the loopback sockets buffer on both ends (a few MB each).
MOST_BYTES_SENT = BODY_BYTES // 2
# The body read up to the limit, as chunks and joined, and room for the allocator.
MOST_PEAK_RSS_GROWTH = 4 * MAX_REQUEST_BYTES
ANSWER_SECONDS = 5.0
FRAMING = multipart_framing("file", "big.csv", boundary="chunked-9c41e7")
FILE_HEAD = b"email,subject,content\nchunked.live@example.com,Subject,"
FILE_TAIL = b"\n"
GRAPHQL_HEAD = b'{"query": "{ __typename }", "variables": {"padding": "'
GRAPHQL_TAIL = b'"}}'


@dataclass
class LazyBody:
    """`head`, `filler` bytes and `tail`, made chunk by chunk; counts the bytes handed to the client."""

    head: bytes
    filler: int
    tail: bytes
    sent: int = 0

    def chunks(self) -> Iterator[bytes]:
        for piece in self.pieces():
            self.sent += len(piece)
            yield piece

    def pieces(self) -> Iterator[bytes]:
        yield self.head
        filler = b"a" * CHUNK
        for start in range(0, self.filler, CHUNK):
            yield filler[: min(CHUNK, self.filler - start)]
        yield self.tail


@dataclass(frozen=True, slots=True)
class Route:
    path: str
    content_type: str
    body: Callable[[], LazyBody]


@dataclass(frozen=True, slots=True)
class Sent:
    response: httpx.Response
    seconds: float
    bytes_sent: int
    peak_rss_growth_kib: int


def upload_body() -> LazyBody:
    return LazyBody(FRAMING.head + FILE_HEAD, BODY_BYTES, FILE_TAIL + FRAMING.tail)


def graphql_body() -> LazyBody:
    return LazyBody(GRAPHQL_HEAD, BODY_BYTES, GRAPHQL_TAIL)


ROUTES = [
    pytest.param(Route("/upload", FRAMING.content_type, upload_body), id="upload"),
    pytest.param(Route("/graphql", "application/json", graphql_body), id="graphql"),
]


def _file_batch_id() -> str:
    """The batch the uploaded file would be (sha256 of its bytes), hashed chunk by chunk."""
    digest = hashlib.sha256()
    for piece in LazyBody(FILE_HEAD, BODY_BYTES, FILE_TAIL).pieces():
        digest.update(piece)
    return digest.hexdigest()[:32]


def _api_pid(stack: LiveStack) -> int:
    port = str(urlsplit(stack.base_url).port).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"uvicorn" in argv and port in argv:
            return int(entry.name)
    raise AssertionError(f"no uvicorn process serves port {port.decode()}")


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise AssertionError(f"{key} missing from /proc/{pid}/status")


@pytest.fixture(scope="module")
def api_pid(stack: LiveStack) -> int:
    """The uvicorn process of the live stack (a grandchild of the process LiveStack started)."""
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux /proc to read and reset the API process's peak memory")
    return _api_pid(stack)


def _send(stack: LiveStack, pid: int, route: Route) -> Sent:
    # Writing 5 resets the peak (VmHWM) to the current resident set (Linux 4.0 and later).
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    before = _status_kib(pid, "VmRSS")
    body = route.body()
    headers = {"x-api-key": stack.api_key, "content-type": route.content_type}
    started = time.monotonic()
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=60.0) as client:
        response = client.post(route.path, content=body.chunks())
    seconds = time.monotonic() - started
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    return Sent(response, seconds, body.sent, _status_kib(pid, "VmHWM") - before)


@pytest.mark.parametrize("route", ROUTES)
def test_a_chunked_64_mb_body_answers_413_payload_too_large_within_seconds(
    route: Route, stack: LiveStack, api_pid: int
) -> None:
    # Given the live stack's /upload or /graphql route
    # When a 64 MB body is sent chunked, without a Content-Length
    sent = _send(stack, api_pid, route)

    # Then the answer is 413 payload_too_large naming the limit, within seconds
    response = sent.response
    assert response.status_code == 413, f"{response.status_code} {response.text[:300]}"
    answer = assert_json_error(413, response.headers.get("content-type", ""), response.content, "payload_too_large")
    assert answer["limitBytes"] == MAX_REQUEST_BYTES
    assert sent.seconds < ANSWER_SECONDS


@pytest.mark.parametrize("route", ROUTES)
def test_a_chunked_64_mb_body_is_read_no_further_than_the_limit_and_the_socket_buffers(
    route: Route, stack: LiveStack, api_pid: int
) -> None:
    # Given the live stack's /upload or /graphql route
    # When a 64 MB body is sent chunked, without a Content-Length
    sent = _send(stack, api_pid, route)

    # Then the client could send no more than the limit and what the sockets buffer: the API stopped reading
    assert sent.bytes_sent <= MOST_BYTES_SENT, f"the client could send {sent.bytes_sent} bytes"


@pytest.mark.parametrize("route", ROUTES)
def test_a_chunked_64_mb_body_grows_the_api_process_peak_memory_by_a_few_limits_at_most(
    route: Route, stack: LiveStack, api_pid: int
) -> None:
    # Given the live stack's /upload or /graphql route, the API process's peak memory reset
    # When a 64 MB body is sent chunked, without a Content-Length
    sent = _send(stack, api_pid, route)

    # Then the API process's peak memory grew by a few times the limit at most: the body was never held whole
    assert sent.peak_rss_growth_kib * 1024 <= MOST_PEAK_RSS_GROWTH, f"peak RSS grew {sent.peak_rss_growth_kib} KiB"


def test_a_chunked_64_mb_upload_writes_nothing_and_creates_no_batch(
    stack: LiveStack, api_pid: int, api: httpx.Client, emulator: Emulator
) -> None:
    # Given the items in the emulator's table
    items_before = emulator.item_count()

    # When a 64 MB file is uploaded chunked, without a Content-Length
    _send(stack, api_pid, Route("/upload", FRAMING.content_type, upload_body))

    # Then no item was written, and the batch the file would be does not exist
    assert emulator.item_count() == items_before
    assert batch(api, _file_batch_id()) is None
