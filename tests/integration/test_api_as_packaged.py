"""The API as its Lambda package ships it: without the modules scripts/package_lambdas.py leaves out
(`pydantic.v1`). Each request goes through the Lambda handler in a fresh interpreter, where those
modules cannot be imported, against the emulated AWS; the answers must be the ones the API gives with
them."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.test_packaging import package_lambdas

ROOT = Path(__file__).resolve().parents[2]
LEFT_OUT = package_lambdas.COMPONENTS["ingestor"].left_out

# Runs in the child: the stack as tests/conftest.py builds it, then one request per line of REQUESTS.
_CHILD = """
import json, os, sys
from moto import mock_aws
from scripts.local.provision import environment_of, provision
from scripts.local.sqs_poller import LocalLambdaContext
from tests.support import TEST_API_KEY
from tests.support.apigw import http_api_event, multipart

with mock_aws():
    stack = provision("test")
    os.environ.update(environment_of(stack), API_KEY=TEST_API_KEY, ENQUEUE_DELAY_SECONDS="0")
    # imported here, under test: the handler builds its clients from the environment just set
    from app.handler import handler
    answers = []
    for method, path, kind, body in json.loads(os.environ["REQUESTS"]):
        if kind == "csv":
            payload, content_type = multipart("file", "c.csv", body.encode())
        else:
            payload, content_type = body.encode(), "application/json"
        event = http_api_event(method, path, body=payload, headers={"content-type": content_type})
        reply = handler(event, LocalLambdaContext(aws_request_id="r"))
        answers.append([reply["statusCode"], json.loads(reply["body"])])
    leaked = [name for name in json.loads(os.environ["LEFT_OUT"]) if sys.modules.get(name) is not None]
print(json.dumps({"answers": answers, "leaked": leaked}))
"""

CSV = "email,subject,content\nann@example.com,Hi,Hello\nnot-an-address,Hi,Hello\n"
LISTING = json.dumps({"query": "{ listEmailStatus(first: 5) { items { email status } } }"})


def _through_the_package(requests: list[tuple[str, str, str, str]]) -> list[tuple[int, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_SERVICE_NAME": "campaign-test",
        "REQUESTS": json.dumps(requests),
        "LEFT_OUT": json.dumps(LEFT_OUT),
        "PYTHONPATH": str(ROOT),
    }
    child = package_lambdas.without_modules(_CHILD, LEFT_OUT)
    done = subprocess.run([sys.executable, "-c", child], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["leaked"] == []
    return [(status, body) for status, body in result["answers"]]


def test_the_ingestor_package_leaves_pydantic_v1_out() -> None:
    # Given the modules the ingestor's package leaves out (scripts/package_lambdas.py)
    # Then they are pydantic.v1 alone, the module the answers below are given without
    assert LEFT_OUT == ("pydantic.v1",)


@pytest.fixture(scope="module")
def answers() -> list[tuple[int, Any]]:
    return _through_the_package(
        [
            ("GET", "/health", "json", ""),
            ("GET", "/openapi.json", "json", ""),
            ("POST", "/upload", "csv", CSV),
            ("POST", "/upload", "csv", "no,header\n"),
            ("POST", "/uploads", "json", '{"sha256": "x", "size": 0}'),
            ("POST", "/graphql", "json", LISTING),
        ]
    )


def test_health_and_the_openapi_document_are_served(answers: list[tuple[int, Any]]) -> None:
    # Given the answers of the packaged API, in a fresh interpreter without the left-out modules (the fixture)
    # When the health check and the OpenAPI document are asked for
    (health_status, health), (openapi_status, openapi) = answers[0], answers[1]
    # Then both are served, and the document describes the upload
    assert (health_status, health) == (200, {"status": "ok"})
    assert openapi_status == 200
    assert "/upload" in openapi["paths"]


def test_an_upload_is_accepted_and_its_bad_row_skipped(answers: list[tuple[int, Any]]) -> None:
    # Given the answers of the packaged API (the fixture)
    # When a file with one good and one invalid address is uploaded
    status, summary = answers[2]
    # Then the upload is created with the good row enqueued and the bad one skipped as invalid
    assert status == 201
    assert (summary["enqueued"], summary["skipped"]) == (1, 1)
    assert summary["skippedRows"][0]["reason"] == "invalid_email"


def test_a_file_without_the_columns_gets_a_400_naming_the_problem(answers: list[tuple[int, Any]]) -> None:
    # Given the answers of the packaged API (the fixture)
    # When a file without the expected columns is uploaded
    status, error = answers[3]
    # Then it is refused with a 400 naming the missing columns
    assert status == 400
    assert error["error"] == "missing_columns"


def test_an_invalid_body_gets_a_400_listing_the_fields(answers: list[tuple[int, Any]]) -> None:
    # Given the answers of the packaged API (the fixture)
    # When a large upload is reserved with an invalid body
    status, error = answers[4]
    # Then it is refused with a 400 listing both bad fields
    assert status == 400
    assert error["error"] == "invalid_request"
    assert {p["location"] for p in error["problems"]} == {"body.sha256", "body.size"}


def test_graphql_lists_the_uploaded_row(answers: list[tuple[int, Any]]) -> None:
    # Given the answers of the packaged API, after the upload (the fixture)
    # When the status listing is queried through GraphQL
    status, listing = answers[5]
    # Then the uploaded row is listed as queued
    assert status == 200
    assert listing["data"]["listEmailStatus"]["items"] == [{"email": "ann@example.com", "status": "QUEUED"}]
