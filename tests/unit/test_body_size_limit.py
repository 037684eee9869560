"""BodySizeLimit (app/request_limits.py) counts a request body while it streams, on a tiny ASGI app.

A body without a Content-Length (Transfer-Encoding: chunked) or with one that declares less than it
carries is refused with the same 413 JSON answer as an oversized Content-Length, as soon as the bytes
received pass the limit: the message that passes it never reaches the app, every later read fails, and
nothing the app sends afterwards reaches the client.
"""

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.types import Message

from app.request_limits import BodySizeLimit
from tests.support.event_loop import run

LIMIT = 10_000
CHUNK = 1_000


@dataclass
class Reader:
    """An app that reads its whole body, then answers 200 with the bytes it got."""

    body: bytearray = field(default_factory=bytearray)
    headers: dict[bytes, bytes] = field(default_factory=dict)
    reached_the_end: bool = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.headers = dict(scope["headers"])
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            self.body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.reached_the_end = True
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": bytes(self.body)})


class CatchingReader:
    """An app that turns any failure to read its body into its own 400, as FastAPI's form parsing does."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            while (await receive()).get("more_body", False):
                pass
            status = 200
        except Exception:
            status = 400
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"the app's own answer"})


class StreamingEcho:
    """An app that starts its response first, then reads the body while it answers."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            message = await receive()
            more = message.get("more_body", False)
            await send({"type": "http.response.body", "body": message.get("body", b""), "more_body": more})
            if not more:
                return


async def _chunks(total: int, chunk: int = CHUNK) -> AsyncIterator[bytes]:
    for start in range(0, total, chunk):
        yield b"x" * min(chunk, total - start)


def _post(app: Any, content: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=BodySizeLimit(app, max_bytes=LIMIT))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/anything", content=content, headers=headers)

    return run(post())


def _asgi(app: Any, messages: Sequence[Message], headers: list[tuple[bytes, bytes]]) -> list[Message]:
    """Run the limited app on these request messages (as Mangum hands over a whole event body); what it sent."""
    sent: list[Message] = []
    pending = list(messages)

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/anything", "headers": headers}
    run(BodySizeLimit(app, max_bytes=LIMIT)(scope, receive, send))
    return sent


def _refusal(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def test_an_async_generator_body_reaches_the_app_chunked_without_content_length() -> None:
    # Given an app that reads its whole body
    app = Reader()

    # When a body from an async generator is posted through the limit
    _post(app, _chunks(3 * CHUNK))

    # Then it reaches the app chunked, without a Content-Length
    assert b"content-length" not in app.headers
    assert app.headers[b"transfer-encoding"] == b"chunked"


def test_a_chunked_body_over_the_limit_answers_413_with_the_json_error() -> None:
    # When a chunked body five times the limit is posted
    response = _post(Reader(), _chunks(LIMIT * 5))

    # Then the answer is 413 with the JSON error that names the limit
    assert _refusal(response) == {
        "error": "payload_too_large",
        "message": f"the request body exceeds {LIMIT} bytes",
        "limitBytes": LIMIT,
    }


def test_a_chunked_body_over_the_limit_is_not_read_past_one_chunk_beyond_it() -> None:
    # Given an app that reads its whole body
    app = Reader()

    # When a chunked body five times the limit is posted
    _post(app, _chunks(LIMIT * 5))

    # Then the app got at most one chunk beyond the limit and never reached the body's end
    assert len(app.body) <= LIMIT + CHUNK
    assert not app.reached_the_end


def test_a_chunked_body_of_exactly_the_limit_reaches_the_app_unchanged() -> None:
    # Given an app that reads its whole body, and a body of exactly the limit's size holding every byte value
    app = Reader()
    body = bytes(range(256)) * (LIMIT // 256) + b"e" * (LIMIT % 256)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), CHUNK):
            yield body[start : start + CHUNK]

    # When it is posted in chunks
    response = _post(app, chunks())

    # Then the app reads it to the end and answers it unchanged
    assert response.status_code == 200
    assert response.content == body
    assert app.reached_the_end


def test_a_content_length_smaller_than_the_body_is_refused_once_the_body_passes_the_limit() -> None:
    # Given an app that reads its whole body, and a body one byte over the limit whose Content-Length declares 10 bytes
    app = Reader()
    messages = [{"type": "http.request", "body": b"x" * (LIMIT + 1), "more_body": False}]

    # When the request reaches the limited app
    sent = _asgi(app, messages, [(b"content-length", b"10")])

    # Then the answer is one 413 with the JSON error, and the app never got the body's end
    assert [message.get("status") for message in sent if message["type"] == "http.response.start"] == [413]
    assert json.loads(sent[-1]["body"])["error"] == "payload_too_large"
    assert not app.reached_the_end


def test_a_content_length_over_the_limit_is_refused_before_the_app_runs() -> None:
    # Given an app that reads its whole body
    app = Reader()

    # When a request declares a Content-Length over the limit
    sent = _asgi(app, [], [(b"content-length", str(LIMIT + 1).encode())])

    # Then the answer is 413 and the app never ran (it never saw the request's headers)
    assert sent[0]["status"] == 413
    assert app.headers == {}


def test_what_the_app_sends_after_its_body_was_cut_never_reaches_the_client() -> None:
    # Given an app that answers its own 400 when reading its body fails, and a chunked body two chunks over the limit
    messages = [{"type": "http.request", "body": b"x" * CHUNK, "more_body": True} for _ in range(LIMIT // CHUNK + 2)]

    # When the request reaches the limited app
    sent = _asgi(CatchingReader(), messages, [(b"transfer-encoding", b"chunked")])

    # Then the client gets the one 413, never the app's own answer
    assert [message.get("status") for message in sent if message["type"] == "http.response.start"] == [413]
    assert b"the app's own answer" not in b"".join(message.get("body", b"") for message in sent)


def test_a_body_cut_after_the_app_started_its_response_sends_no_413_and_completes_nothing() -> None:
    # Given an app that starts its 200 before reading, and a chunked body two chunks over the limit
    messages = [{"type": "http.request", "body": b"x" * CHUNK, "more_body": True} for _ in range(LIMIT // CHUNK + 2)]

    # When the request reaches the limited app
    sent = _asgi(StreamingEcho(), messages, [(b"transfer-encoding", b"chunked")])

    # Then no 413 follows the 200 already sent, the response body never completes, and no more than the limit is echoed
    assert [message.get("status") for message in sent if message["type"] == "http.response.start"] == [200]
    assert all(message.get("more_body") for message in sent if message["type"] == "http.response.body")
    assert sum(len(message.get("body", b"")) for message in sent) <= LIMIT
