"""The cold-start baseline for the API Lambda: FastAPI + Strawberry + Mangum and nothing of ours.

Imported by the cold-start probes (scripts/bench/coldstart.py); it builds the app and the adapter at import, as
app/handler.py does.
"""

from typing import Any

import strawberry
from fastapi import FastAPI
from mangum import Mangum
from strawberry.fastapi import GraphQLRouter


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "hello"


app = FastAPI(title="bare")
app.include_router(GraphQLRouter(strawberry.Schema(query=Query)), prefix="/graphql")
_asgi = Mangum(app, lifespan="off")


def handler(event: dict[str, Any], context: Any) -> Any:
    return _asgi(event, context)
