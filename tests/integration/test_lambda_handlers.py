"""The API Lambda through Mangum with real API Gateway v2 events."""

import base64
import json
from typing import Any

from campaign.domain.csv_rules import CsvErrorCode
from scripts.local.provision import LocalResources
from scripts.local.sqs_poller import LocalLambdaContext
from tests.support.apigw import http_api_event, multipart
from tests.support.csv_files import campaign_csv


def _invoke(event: dict[str, Any]) -> dict[str, Any]:
    # Imported here, not at the top: the module builds the app from the environment when imported,
    # and that environment is the one the stack fixture sets (at collection time it raises SettingsError)
    from app.handler import handler

    response: dict[str, Any] = handler(event, LocalLambdaContext())
    return response


def _json_body(response: dict[str, Any]) -> Any:
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body)


def test_base64_multipart_upload_through_mangum_creates_a_batch(stack: LocalResources) -> None:
    # Given an HTTP API event carrying a base64-encoded multipart upload
    body, content_type = multipart("file", "campaign.csv", campaign_csv(4))
    event = http_api_event("POST", "/upload", body=body, headers={"content-type": content_type})
    # When the Lambda handler runs
    response = _invoke(event)
    # Then the batch is created
    assert response["statusCode"] == 201
    assert _json_body(response)["enqueued"] == 4


def test_health_through_mangum(stack: LocalResources) -> None:
    # Given an HTTP API event for the health check
    # When the Lambda handler runs
    response = _invoke(http_api_event("GET", "/health"))
    # Then it answers 200 with the JSON status
    assert response["statusCode"] == 200
    assert _json_body(response) == {"status": "ok"}


def test_graphql_through_mangum(stack: LocalResources) -> None:
    # Given an HTTP API event posting a listEmailStatus query, and no send stored
    query = json.dumps({"query": "{ listEmailStatus { items { sendId } nextCursor } }"}).encode()
    event = http_api_event("POST", "/graphql", body=query, headers={"content-type": "application/json"})
    # When the Lambda handler runs
    response = _invoke(event)
    # Then it answers 200 with an empty page and no next cursor
    assert response["statusCode"] == 200
    assert _json_body(response) == {"data": {"listEmailStatus": {"items": [], "nextCursor": None}}}


def test_bad_upload_through_mangum_is_a_400_json(stack: LocalResources) -> None:
    # Given an HTTP API event uploading a CSV without the campaign's columns
    body, content_type = multipart("file", "campaign.csv", b"name,age\nx,1\n")
    # When the Lambda handler runs
    response = _invoke(http_api_event("POST", "/upload", body=body, headers={"content-type": content_type}))
    # Then it answers 400 in JSON with the missing-columns error
    assert response["statusCode"] == 400
    assert _json_body(response)["error"] == CsvErrorCode.MISSING_COLUMNS
