"""Schemathesis against the live /openapi.json: every operation, positive and (where the document
declares an input to negate) negative generation, each with MAX_EXAMPLES examples, with the API key.

Schemathesis' whole default check set runs — no server error, responses that conform to the
document's schemas, content types, negative data rejected, auth not ignored, … — except the checks
listed in EXCLUDED, each for the reason given there. Its pytest integration for fixture-provided
schemas (`schemathesis.pytest.from_fixture`) does not work with pytest 9.2, so the schema is loaded
with `schemathesis.openapi.from_url` in a fixture and each operation's strategy is driven by `@given`.
"""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Ok
from schemathesis.specs.openapi import checks

from scripts.local.stack import LiveStack
from tests.support.hypothesis_profiles import examples

MAX_EXAMPLES = 50

# (operation, generation mode): every operation of the document (the next test keeps this list
# honest). GET /health has no input, so there is nothing to negate.
RUNS = (
    ("GET /health", "positive"),
    ("POST /upload", "positive"),
    ("POST /upload", "negative"),
    ("POST /uploads", "positive"),
    ("POST /uploads", "negative"),
    ("GET /uploads/{upload_id}", "positive"),
    ("GET /uploads/{upload_id}", "negative"),
    ("GET /graphql", "positive"),
    ("GET /graphql", "negative"),
    ("POST /graphql", "positive"),
    ("POST /graphql", "negative"),
    ("GET /unsubscribe", "positive"),
    ("GET /unsubscribe", "negative"),
    ("POST /unsubscribe", "positive"),
    ("POST /unsubscribe", "negative"),
)

# What the document cannot say (app/openapi.py corrects the rest: 401 and 400 everywhere, no 422,
# POST /upload's `file` required, POST /uploads' size maximum):
# * POST /upload: any bytes are a schema-valid `file`, but only a CSV is accepted (400 otherwise);
# * POST /uploads: a size over the limit answers 413, which a schema maximum would make Schemathesis
#   read as negative data accepted, so the document states the limit in words only;
# * POST /graphql: Strawberry documents no request body, so generated bodies are refused (400);
# * GET /graphql: the GraphiQL page is public by design (README) and HTML, which Strawberry's
#   generated entry declares as application/json;
# * /unsubscribe: any string is a schema-valid token, but only one this API signed is accepted (400).
CheckFunction = Callable[..., bool | None]
EXCLUDED: dict[str, list[CheckFunction]] = {
    "POST /upload": [checks.positive_data_acceptance],
    "POST /uploads": [checks.positive_data_acceptance],
    "POST /graphql": [checks.positive_data_acceptance],
    "GET /unsubscribe": [checks.positive_data_acceptance],
    "POST /unsubscribe": [checks.positive_data_acceptance],
    "GET /graphql": [
        checks.positive_data_acceptance,
        checks.ignored_auth,
        checks.content_type_conformance,
    ],
}


@pytest.fixture(scope="module")
def live_schema(stack: LiveStack) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{stack.base_url}/openapi.json", timeout=10)


def test_the_runs_cover_exactly_the_documents_operations(live_schema: schemathesis.BaseSchema) -> None:
    # Given the live document / When its operations are listed / Then RUNS names each of them, no other
    results = list(live_schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), "an operation of the document does not load"
    documented = {result.ok().label for result in results if isinstance(result, Ok)}
    assert documented == {label for label, _ in RUNS}, "add new operations to RUNS (and EXCLUDED if needed)"


@pytest.mark.parametrize(("label", "mode"), RUNS, ids=[f"{label} {mode}" for label, mode in RUNS])
def test_generated_requests_pass_the_default_checks(
    live_schema: schemathesis.BaseSchema, stack: LiveStack, label: str, mode: str
) -> None:
    # Given requests Schemathesis generates for one operation from the document
    operation = live_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the document"
    strategy: st.SearchStrategy[schemathesis.Case[Any]] = operation.as_strategy(
        generation_mode=schemathesis.GenerationMode(mode)
    )
    excluded = EXCLUDED.get(label, [])

    @given(case=strategy)
    @settings(
        max_examples=examples(MAX_EXAMPLES), deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def check(case: schemathesis.Case[Any]) -> None:
        # When each is sent with the API key / Then every check but the excluded ones passes
        case.call_and_validate(
            base_url=stack.base_url, headers={"x-api-key": stack.api_key}, excluded_checks=excluded, timeout=30
        )

    check()


def test_openapi_document_describes_the_upload_contract(stack: LiveStack) -> None:
    # Given the live document / When POST /upload's entry is read
    document = httpx.get(f"{stack.base_url}/openapi.json", timeout=10).json()
    upload = document["paths"]["/upload"]["post"]
    body_ref = upload["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    body_schema = document["components"]["schemas"][body_ref.rsplit("/", 1)[-1]]
    # Then it requires the file and lists the answers the API gives: 401, and not 422
    assert "file" in body_schema.get("required", [])
    assert "401" in upload["responses"]
    assert "422" not in upload["responses"]
