"""API-key authentication: `Authorization: Bearer <key>` or `x-api-key: <key>`, compared in constant time.

Deployed, the key is read from Secrets Manager through Powertools' cached provider (one read per
container per five minutes), so rotating the secret takes effect within that time without a deploy.
"""

import hmac
from typing import Annotated

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from fastapi import Security, WebSocketException, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from app.errors import ApiError
from campaign.aws.clients import client
from campaign.caches import per_container
from campaign.config import api_settings

SECRET_CACHE_SECONDS = 300

_api_key_header = APIKeyHeader(name="x-api-key", auto_error=False, description="The API key")
_bearer = HTTPBearer(auto_error=False, description="The API key as a bearer token")


@per_container
def _secrets() -> SecretsProvider:
    return SecretsProvider(boto3_client=client("secretsmanager"))


def expected_api_key() -> str:
    settings = api_settings()
    if settings.api_key_secret_arn is not None:
        return str(_secrets().get(settings.api_key_secret_arn, max_age=SECRET_CACHE_SECONDS))
    assert settings.api_key is not None  # api_settings() requires one of the two
    return settings.api_key


def _is_valid(given: str | None) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected_api_key().encode())


def require_api_key(
    api_key: Annotated[str | None, Security(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> None:
    """Refuse the request (401) before any work unless it carries the key."""
    if not (_is_valid(api_key) or _is_valid(bearer.credentials if bearer else None)):
        raise ApiError(
            401,
            "unauthorized",
            "send the API key as 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


def require_api_key_for_graphql(
    connection: HTTPConnection,
    api_key: Annotated[str | None, Security(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> None:
    """The GraphiQL page itself (a GET without a query) is public so a browser can open it; every
    query, by POST or GET, needs the key (GraphiQL sends it from its headers pane). The schema has no
    subscriptions, so a WebSocket handshake is closed (policy violation) before anything else."""
    if connection.scope["type"] == "websocket":
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION, "this API has no subscriptions: POST queries")
    if connection.scope["method"] == "GET" and "query" not in connection.query_params:
        return
    require_api_key(api_key, bearer)
