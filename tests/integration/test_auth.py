"""Every endpoint but /health (and the static docs/GraphiQL pages) needs the API key."""

from typing import Any

import pytest
from fastapi import status
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app.main import create_app
from campaign.aws.clients import client
from scripts.local.provision import LocalResources
from tests.conftest import reset_process_caches
from tests.support import TEST_API_KEY
from tests.support.aws_calls import recording
from tests.support.csv_files import campaign_csv

LIST = {"query": "{ listEmailStatus { items { sendId } } }"}


@pytest.fixture
def anonymous(stack: LocalResources) -> TestClient:
    return TestClient(create_app(), raise_server_exceptions=False)


def _upload(api: TestClient, **headers: str) -> Any:
    return api.post("/upload", files={"file": ("c.csv", campaign_csv(2), "text/csv")}, headers=headers)


def test_upload_without_a_key_is_401_json_and_writes_nothing(anonymous: TestClient, stack: LocalResources) -> None:
    # Given a client that sends no API key
    # When it uploads a campaign
    response = _upload(anonymous)
    # Then it is refused with a JSON 401 that asks for a bearer token, and no row is written
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"
    assert client("dynamodb").scan(TableName=stack.table_name)["Count"] == 0


@pytest.mark.parametrize(
    "headers", [{"x-api-key": "wrong"}, {"authorization": "Bearer wrong"}, {"authorization": TEST_API_KEY}]
)
def test_wrong_key_is_401(anonymous: TestClient, headers: dict[str, str]) -> None:
    # Given a wrong key, or the right key without the "Bearer" scheme
    # When a client uploads with it, then the upload is refused
    assert _upload(anonymous, **headers).status_code == 401


@pytest.mark.parametrize("headers", [{"x-api-key": TEST_API_KEY}, {"authorization": f"Bearer {TEST_API_KEY}"}])
def test_key_is_accepted_in_either_header(anonymous: TestClient, headers: dict[str, str]) -> None:
    # Given the right key in x-api-key or as a bearer token
    # When a client uploads with it, then the upload is accepted
    assert _upload(anonymous, **headers).status_code == 201


def test_graphql_query_without_a_key_is_401(anonymous: TestClient) -> None:
    # Given a client that sends no API key
    # When it queries GraphQL by POST or by GET, then both are refused
    assert anonymous.post("/graphql", json=LIST).status_code == 401
    assert anonymous.get("/graphql", params={"query": LIST["query"]}).status_code == 401


def test_graphql_query_with_the_key_works(anonymous: TestClient) -> None:
    # Given an empty table
    # When a client queries GraphQL with the key as a bearer token
    response = anonymous.post("/graphql", json=LIST, headers={"authorization": f"Bearer {TEST_API_KEY}"})
    # Then the query is answered
    assert response.json() == {"data": {"listEmailStatus": {"items": []}}}


@pytest.mark.parametrize(
    ("headers", "subprotocols"),
    [({}, []), ({"x-api-key": TEST_API_KEY}, ["graphql-transport-ws"]), ({"x-api-key": "wrong"}, ["graphql-ws"])],
)
def test_a_websocket_handshake_on_graphql_is_closed_cleanly(
    stack: LocalResources, headers: dict[str, str], subprotocols: list[str]
) -> None:
    # Given an app whose crashes fail the test, and a client with or without a key
    strict = TestClient(create_app(), raise_server_exceptions=True)
    # When the client opens a websocket on /graphql
    handshake = strict.websocket_connect("/graphql", headers=headers, subprotocols=subprotocols)
    # Then the socket is closed as a policy violation that says there are no subscriptions
    with pytest.raises(WebSocketDisconnect) as closed, handshake as socket:
        socket.receive_text()
    assert closed.value.code == status.WS_1008_POLICY_VIOLATION
    assert "no subscriptions" in closed.value.reason


@pytest.mark.parametrize("path", ["/health", "/docs", "/openapi.json"])
def test_health_and_docs_need_no_key(anonymous: TestClient, path: str) -> None:
    # Given a client that sends no API key
    # When it asks for the health check or the API docs, then it gets them
    assert anonymous.get(path).status_code == 200


def test_graphiql_page_opens_without_a_key(anonymous: TestClient) -> None:
    # Given a browser that sends no API key
    # When it opens /graphql asking for HTML
    response = anonymous.get("/graphql", headers={"accept": "text/html"})
    # Then it gets the GraphiQL page
    assert response.status_code == 200 and "graphiql" in response.text.lower()


def test_openapi_offers_both_schemes_to_swaggers_authorize_button(anonymous: TestClient) -> None:
    # Given the app's OpenAPI document
    # When its security schemes are read
    schemes = anonymous.get("/openapi.json").json()["components"]["securitySchemes"]
    # Then it offers both the API-key header and the bearer token
    assert {s["type"] for s in schemes.values()} == {"apiKey", "http"}


def test_deployed_key_comes_from_secrets_manager_and_is_cached(
    stack: LocalResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the key stored in Secrets Manager and only its ARN in the environment
    arn = client("secretsmanager").create_secret(Name="api-key", SecretString="from-the-vault")["ARN"]
    monkeypatch.delenv("API_KEY")
    monkeypatch.setenv("API_KEY_SECRET_ARN", arn)
    reset_process_caches()
    api = TestClient(create_app(), raise_server_exceptions=False)
    # When several requests arrive
    with recording("secretsmanager") as log:
        codes = [_upload(api, **{"x-api-key": "from-the-vault"}).status_code for _ in range(3)]
        refused = _upload(api, **{"x-api-key": TEST_API_KEY}).status_code
    # Then the secret's value is the key, read once
    assert codes == [201, 200, 200] and refused == 401
    assert log.count("GetSecretValue") == 1


def test_cors_is_off_unless_configured(anonymous: TestClient) -> None:
    # Given an app with no CORS origins configured
    # When a browser on another origin sends a preflight
    response = anonymous.options(
        "/graphql", headers={"origin": "https://evil.example", "access-control-request-method": "POST"}
    )
    # Then the answer allows no origin
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_only_configured_origins(stack: LocalResources, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an app that allows one origin
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://app.example")
    reset_process_caches()
    api = TestClient(create_app())
    # When browsers on that origin and on another send a preflight
    preflight = {"access-control-request-method": "POST"}
    allowed = api.options("/graphql", headers={"origin": "https://app.example", **preflight})
    refused = api.options("/graphql", headers={"origin": "https://evil.example", **preflight})
    # Then only the configured origin is allowed
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in refused.headers
