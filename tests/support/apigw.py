"""API Gateway HTTP API (payload v2) events, shaped like the ones Lambda receives."""

import base64
import json
from pathlib import Path
from typing import Any, NamedTuple

from tests.support import TEST_API_KEY

_TEMPLATE = Path(__file__).resolve().parent.parent / "events" / "apigw_v2_event.json"


def http_api_event(
    method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(_TEMPLATE.read_text())
    event["rawPath"] = path
    event["routeKey"] = "$default"
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["headers"] = {**event["headers"], "x-api-key": TEST_API_KEY, **(headers or {})}
    if body:
        # API Gateway base64-encodes binary and multipart bodies.
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
        event["headers"]["content-length"] = str(len(body))
    return event


class MultipartFraming(NamedTuple):
    """What goes before and after one CSV file part, for bodies built (or streamed) by hand."""

    head: bytes
    tail: bytes
    content_type: str


def multipart_framing(field: str, filename: str, boundary: str = "----campaign-test") -> MultipartFraming:
    return MultipartFraming(
        head=(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode(),
        tail=f"\r\n--{boundary}--\r\n".encode(),
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def multipart(field: str, filename: str, content: bytes, boundary: str = "----campaign-test") -> tuple[bytes, str]:
    framing = multipart_framing(field, filename, boundary)
    return framing.head + content + framing.tail, framing.content_type
