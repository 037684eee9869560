"""/graphql requests that Strawberry cannot read answer the API's one JSON error shape (app/errors.py),
never text/plain and never a 5xx; the GraphiQL page itself stays public and HTML."""

import httpx
import pytest

from scripts.local.stack import LiveStack
from tests.http.helpers import assert_json_error


@pytest.mark.parametrize(
    ("body", "content_type", "says"),
    [
        (b"not json", "application/json", "Unable to parse request body as JSON"),
        (b"[]", "application/json", "Batching is not enabled"),
        (b"{}", "application/json", "No GraphQL query found"),
        (b'{"query": 1}', "application/json", "`query` must be a string"),
        (b"query=1", "text/plain", "Unsupported content type"),
    ],
    ids=["not-json", "json-array", "no-query", "query-not-a-string", "text-plain"],
)
def test_an_unreadable_graphql_post_is_a_json_400(stack: LiveStack, body: bytes, content_type: str, says: str) -> None:
    # Given a POST /graphql with the API key and a body that is no GraphQL request
    headers = {"x-api-key": stack.api_key, "content-type": content_type}

    # When it is sent
    response = httpx.post(f"{stack.base_url}/graphql", content=body, headers=headers, timeout=30)

    # Then a JSON 400 whose message says what is wrong
    assert response.status_code == 400, response.text
    answer = assert_json_error(400, response.headers["content-type"], response.content, "malformed_request")
    assert says in answer["message"], answer


def test_a_get_without_a_query_from_a_non_browser_is_a_json_400(stack: LiveStack) -> None:
    # Given a client that asks for JSON, not the GraphiQL page, without the API key
    # When it GETs /graphql without a query
    response = httpx.get(f"{stack.base_url}/graphql", headers={"accept": "application/json"}, timeout=30)

    # Then a JSON 400 that names the missing query (and no key was needed to be told so)
    assert response.status_code == 400, response.text
    answer = assert_json_error(400, response.headers["content-type"], response.content, "malformed_request")
    assert "No GraphQL query found" in answer["message"], answer


def test_a_get_without_a_query_from_a_browser_is_the_public_graphiql_page(stack: LiveStack) -> None:
    # Given a browser (it accepts HTML) without the API key
    # When it GETs /graphql
    response = httpx.get(f"{stack.base_url}/graphql", headers={"accept": "text/html"}, timeout=30)

    # Then the GraphiQL page
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "GraphiQL" in response.text


def test_a_mutation_by_get_is_a_json_400(stack: LiveStack) -> None:
    # Given a GET with the API key and a mutation in the query string
    # When it is sent
    response = httpx.get(
        f"{stack.base_url}/graphql",
        params={"query": "mutation { x }"},
        headers={"x-api-key": stack.api_key},
        timeout=30,
    )

    # Then a JSON 400 that says mutations are not allowed by GET
    assert response.status_code == 400, response.text
    answer = assert_json_error(400, response.headers["content-type"], response.content, "malformed_request")
    assert "mutations are not allowed when using GET" in answer["message"], answer


def test_another_method_is_a_json_405(stack: LiveStack) -> None:
    # Given a PUT /graphql with the API key
    # When it is sent
    response = httpx.put(f"{stack.base_url}/graphql", headers={"x-api-key": stack.api_key}, content=b"{}", timeout=30)

    # Then a JSON 405
    assert response.status_code == 405, response.text
    assert_json_error(405, response.headers["content-type"], response.content, "method_not_allowed")


LIST = (
    "query($s: [EmailStatus!], $f: DateTime, $t: DateTime, $b: String) "
    "{ listEmailStatus(status: $s, from: $f, to: $t, batchId: $b) { items { sendId } nextCursor } }"
)


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        ({"f": "0001-01-01T00:00:00+01:00"}, "'from' is out of range"),
        ({"t": "9999-12-31T23:59:59-01:00"}, "'to' is out of range"),
        ({"b": "a" * 2000}, "batchId must be 32 lowercase hexadecimal characters"),
        ({"b": "../../etc/passwd"}, "batchId must be 32 lowercase hexadecimal characters"),
    ],
    ids=["from-before-year-1-in-utc", "to-after-year-9999-in-utc", "batch-id-over-the-key-limit", "batch-id-path"],
)
def test_hostile_listing_arguments_are_graphql_errors_that_name_them(
    stack: LiveStack, variables: dict[str, str], says: str
) -> None:
    # Given a listEmailStatus query with a date outside what UTC can hold, or a batch id that is no batch id
    # When it is posted with the API key
    response = httpx.post(
        f"{stack.base_url}/graphql",
        json={"query": LIST, "variables": variables},
        headers={"x-api-key": stack.api_key},
        timeout=30,
    )
    # Then the answer is a GraphQL error (HTTP 200), one, whose message names the argument and what is wrong
    assert response.status_code == 200, response.text
    (message,) = [error["message"] for error in response.json()["errors"]]
    assert message.startswith(says), message


def test_an_empty_status_list_is_an_empty_page(stack: LiveStack) -> None:
    # Given a listEmailStatus query whose status filter is an empty list
    # When it is posted with the API key
    response = httpx.post(
        f"{stack.base_url}/graphql",
        json={"query": LIST, "variables": {"s": []}},
        headers={"x-api-key": stack.api_key},
        timeout=30,
    )
    # Then the answer is a page with no items and no cursor, not an error
    assert response.json() == {"data": {"listEmailStatus": {"items": [], "nextCursor": None}}}


def test_a_websocket_upgrade_on_graphql_is_not_accepted_and_the_server_stays_up(stack: LiveStack) -> None:
    # Given a GraphQL WebSocket upgrade request with the API key (the local server has no WebSocket library)
    upgrade = {
        "x-api-key": stack.api_key,
        "connection": "Upgrade",
        "upgrade": "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-protocol": "graphql-transport-ws",
    }
    # When it is sent to /graphql
    response = httpx.get(f"{stack.base_url}/graphql", headers=upgrade, timeout=30)
    # Then it is answered as plain HTTP, never 101 nor a 5xx, and the server still answers its health check
    assert response.status_code != 101 and response.status_code < 500, response.text
    assert httpx.get(f"{stack.base_url}/health", timeout=30).status_code == 200
