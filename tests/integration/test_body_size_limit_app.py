"""The real app, in process: a chunked body (no Content-Length) over the request limit is cut while it
streams, on the route whose form FastAPI parses (python-multipart spools the file) as on GraphQL.

The body is generated chunk by chunk as the app asks for it (httpx's ASGITransport pulls one chunk
per `receive`), so the bytes generated are the bytes the app read.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from app.main import create_app
from campaign.aws.clients import client
from campaign.limits import MAX_REQUEST_BYTES
from scripts.local.provision import LocalResources
from tests.support import TEST_API_KEY
from tests.support.apigw import multipart_framing
from tests.support.csv_files import campaign_csv
from tests.support.event_loop import run

CHUNK = 64 * 1024
FRAMING = multipart_framing("file", "c.csv", boundary="limit-3b9e")


@dataclass
class Body:
    """A body of `head`, then `filler` bytes, then `tail`, made one chunk at a time; counts what was taken."""

    head: bytes
    filler: int
    tail: bytes = b""
    taken: int = 0
    finished: bool = False

    async def chunks(self) -> AsyncIterator[bytes]:
        for piece in self._pieces():
            self.taken += len(piece)
            yield piece
        self.finished = True

    def _pieces(self) -> Any:
        yield self.head
        for start in range(0, self.filler, CHUNK):
            yield b"a" * min(CHUNK, self.filler - start)
        if self.tail:
            yield self.tail


def _post(path: str, body: Body, content_type: str) -> httpx.Response:
    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app())
        headers = {"x-api-key": TEST_API_KEY, "content-type": content_type}
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as api:
            response = await api.post(path, content=body.chunks())
        assert "content-length" not in response.request.headers
        return response

    return run(post())


def _assert_payload_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.json() == {
        "error": "payload_too_large",
        "message": f"the request body exceeds {MAX_REQUEST_BYTES} bytes",
        "limitBytes": MAX_REQUEST_BYTES,
    }


def test_a_chunked_upload_over_the_request_limit_answers_413_payload_too_large(stack: LocalResources) -> None:
    # Given a one-row CSV file padded past the request limit, sent in chunks without a Content-Length
    body = Body(FRAMING.head + campaign_csv(1), MAX_REQUEST_BYTES, FRAMING.tail)

    # When it is posted to the upload route, then the answer is 413 payload too large, naming the limit
    _assert_payload_too_large(_post("/upload", body, FRAMING.content_type))


def test_the_form_parser_reads_a_chunked_upload_no_further_than_one_chunk_past_the_limit(
    stack: LocalResources,
) -> None:
    # Given a chunked upload four times the request limit
    body = Body(FRAMING.head + campaign_csv(1), 4 * MAX_REQUEST_BYTES, FRAMING.tail)

    # When it is posted to the upload route
    _post("/upload", body, FRAMING.content_type)

    # Then the app read at most one chunk past the limit and never the whole body
    assert body.taken <= MAX_REQUEST_BYTES + CHUNK
    assert not body.finished


def test_a_chunked_upload_over_the_request_limit_writes_nothing(stack: LocalResources) -> None:
    # Given a chunked upload over the request limit
    body = Body(FRAMING.head + campaign_csv(1), MAX_REQUEST_BYTES, FRAMING.tail)

    # When it is posted to the upload route
    _post("/upload", body, FRAMING.content_type)

    # Then nothing is written to the table
    assert client("dynamodb").scan(TableName=stack.table_name, Select="COUNT")["Count"] == 0


def test_a_chunked_graphql_body_over_the_request_limit_answers_413_unread_past_one_chunk(
    stack: LocalResources,
) -> None:
    # Given a GraphQL query padded to four times the request limit, sent in chunks
    body = Body(b'{"query": "{ __typename }", "padding": "', 4 * MAX_REQUEST_BYTES, b'"}')

    # When it is posted to the GraphQL route
    response = _post("/graphql", body, "application/json")

    # Then the answer is 413 payload too large, and at most one chunk past the limit was read
    _assert_payload_too_large(response)
    assert body.taken <= MAX_REQUEST_BYTES + CHUNK


def test_a_chunked_upload_under_the_limit_is_ingested(stack: LocalResources) -> None:
    # Given a three-row CSV file sent in chunks without a Content-Length
    body = Body(FRAMING.head + campaign_csv(3), 0, FRAMING.tail)

    # When it is posted to the upload route
    response = _post("/upload", body, FRAMING.content_type)

    # Then the upload is created with its three rows enqueued
    assert response.status_code == 201, response.text
    assert response.json()["enqueued"] == 3
