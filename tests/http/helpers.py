"""Shared helpers for the live-HTTP tests: GraphQL calls, the refusal contract, emulator reads."""

import hashlib
from typing import Any

import boto3
import httpx

from campaign.aws.table_schema import PARTITION_KEY, suppression_pk
from scripts.local.provision import resource_names

# `make run` provisions its resources with stage "local" (scripts/local/run.py).
TABLE_NAME, QUEUE_NAME, DLQ_NAME = resource_names("local")

BATCH = "query($b: String!) { batch(batchId: $b) { batchId total enqueued skipped notEnqueued state } }"
COUNTS = "query($b: String!) { batch(batchId: $b) { counts { pending queued sent error } } }"

# Every code POST /upload may refuse a file or request with (README, "Files that are refused").
UPLOAD_ERROR_CODES = frozenset(
    {
        "missing_file",
        "empty_file",
        "no_data_rows",
        "missing_columns",
        "duplicate_columns",
        "not_utf8",
        "not_csv",
        "malformed_csv",
        "unauthorized",
        "malformed_request",
        "invalid_request",
        "payload_too_large",
        "file_too_large",
        "too_many_rows",
        "unsupported_media_type",
    }
)


def batch_id_of(content: bytes) -> str:
    """The API names a batch by its file's bytes (campaign.domain.ids.batch_id_for), computed here
    independently so that the test does not trust the code under test."""
    return hashlib.sha256(content).hexdigest()[:32]


def graphql(client: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST a query that must succeed: 200, JSON, no GraphQL errors; returns `data`."""
    response = client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, f"{response.status_code}: {response.text[:500]}"
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def batch(client: httpx.Client, batch_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = graphql(client, BATCH, {"b": batch_id})["batch"]
    return found


def assert_json_error(status: int, content_type: str, body: bytes, code: str) -> dict[str, Any]:
    """The API's one error shape: JSON `{"error": <code>, "message": <non-empty text>, ...}`."""
    assert content_type.startswith("application/json"), f"{status} {content_type}: {body[:300]!r}"
    answer = httpx.Response(status, content=body).json()
    assert isinstance(answer, dict), answer
    assert answer.get("error") == code, answer
    assert isinstance(answer.get("message"), str) and answer["message"].strip(), answer
    return answer


class Emulator:
    """Direct reads of the emulated DynamoDB table (moto's server, as `make run` provisions it)."""

    def __init__(self, endpoint_url: str) -> None:
        self._ddb = boto3.client(
            "dynamodb",
            endpoint_url=endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def suppression_reason(self, address: str) -> str | None:
        """Why the address is suppressed, or None if it is not."""
        item = self._ddb.get_item(
            TableName=TABLE_NAME, Key={PARTITION_KEY: {"S": suppression_pk(address)}}, ConsistentRead=True
        ).get("Item")
        return None if item is None else str(item["reason"]["S"])

    def item_count(self) -> int:
        """Every item of the table (batches and rows); a Scan is fine for a test's small table."""
        pages = self._ddb.get_paginator("scan").paginate(TableName=TABLE_NAME, Select="COUNT")
        return sum(int(page["Count"]) for page in pages)
