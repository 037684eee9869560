from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app.main import create_app
from tests.support import TEST_API_KEY


@pytest.fixture
def api(stack: Any) -> TestClient:
    return TestClient(create_app(), raise_server_exceptions=False, headers={"x-api-key": TEST_API_KEY})


@pytest.fixture
def upload(api: TestClient) -> Callable[[bytes], Response]:
    def _upload(content: bytes, filename: str = "campaign.csv") -> Response:
        response: Response = api.post("/upload", files={"file": (filename, content, "text/csv")})
        return response

    return _upload


@pytest.fixture
def graphql(api: TestClient) -> Callable[..., dict[str, Any]]:
    def _query(query: str, **variables: Any) -> dict[str, Any]:
        response = api.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return _query
