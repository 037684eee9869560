"""The OpenAPI document, corrected where FastAPI's generated one differs from what the API answers.

FastAPI lists a 422 for every operation with parameters, but app/errors.py answers request-validation
errors 400 `invalid_request`; the API key is checked by a router dependency, which the document does
not turn into a 401; and `POST /upload` takes `file` as optional only to answer 400 `missing_file`
itself instead of a generic validation error. Schemathesis holds the API to this document.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

# Operations that answer without the API key (app/main.py mounts every other router behind it; the
# static /docs and /openapi.json pages are not operations of the document).
PUBLIC_PATHS = frozenset({"/health", "/unsubscribe"})
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}
_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = corrected(
                get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def corrected(document: dict[str, Any]) -> dict[str, Any]:
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault("400", _error_response("The request does not match the API"))
            if path not in PUBLIC_PATHS:
                responses.setdefault("401", _error_response("The API key is missing or wrong"))
            if path == "/graphql":
                responses.setdefault("400", _error_response("The request carries no readable GraphQL query"))
    schemas = document.get("components", {}).get("schemas", {})
    for name in _VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    for name, schema in schemas.items():
        if name.startswith("Body_upload_csv") and "file" in schema.get("properties", {}):
            schema["required"] = sorted({*schema.get("required", []), "file"})
            schema["properties"]["file"] = {"type": "string", "format": "binary", "title": "File"}
    return document


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_SCHEMA}}}
