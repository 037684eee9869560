"""One JSON error shape for every 4xx: {"error": <code>, "message": <what is wrong>, ...details}."""

import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers


def error_response(status_code: int, code: str, message: str, **details: Any) -> JSONResponse:
    return JSONResponse(status_code=status_code, content={"error": code, "message": message, **details})


_HTTP_CODES = {400: "malformed_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    response = error_response(exc.status_code, exc.code, exc.message, **exc.details)
    response.headers.update(exc.headers or {})
    return response


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, _HTTP_CODES.get(exc.status_code, "http_error"), str(exc.detail))


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"location": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")} for e in exc.errors()
    ]
    return error_response(400, "invalid_request", "the request does not match the API", problems=problems)


async def _aws_unavailable(_: Request, __: Exception) -> JSONResponse:
    # The request was fine; AWS was not. Safe to retry: uploads are idempotent.
    logger.exception("AWS call failed")
    return error_response(503, "service_unavailable", "a backing AWS service failed; retry the request")


async def _unexpected(_: Request, __: Exception) -> JSONResponse:
    logger.exception("unhandled error")
    return error_response(500, "internal_error", "the server failed; the request can be retried safely")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ClientError, _aws_unavailable)
    app.add_exception_handler(BotoCoreError, _aws_unavailable)
    app.add_exception_handler(Exception, _unexpected)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
