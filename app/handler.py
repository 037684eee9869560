"""API Lambda entry point. The app and adapter are built once per container; lifespan is off because
Mangum would otherwise run it on every invocation."""

from typing import Any

from mangum import Mangum

from app.main import create_app

app = create_app()
_asgi = Mangum(app, lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _asgi(event, context)
